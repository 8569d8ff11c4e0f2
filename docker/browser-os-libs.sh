#!/bin/sh
# The OS packages Chrome for Testing needs, full Chrome or the headless shell (the shell links a subset
# of full Chrome's libraries), for whichever package manager the Lambda base has:
#   yum       public.ecr.aws/lambda/python:3.11 (Amazon Linux 2)
#   dnf       public.ecr.aws/lambda/python:3.12 and later (Amazon Linux 2023; microdnf, maybe named dnf)
#   apt-get   the offline stand-in base (Debian bookworm), which runs Debian's Chromium build
# Besides the shared libraries: unzip (and curl) for the Chrome for Testing archives, fontconfig and a
# font with Hangul, because booking pages and screenshots are Korean. docker/check-browser.sh proves
# every library is found and a Korean font is there, so a wrong name here fails the build.
set -eu

# Full Chrome's libraries, Red Hat names: what Chrome's own Linux package depends on (Chromium's
# chrome/installer/linux dependency list, the libraries chrome links: nss and nspr, glib2, dbus, atk and
# at-spi2, cups, libdrm, mesa-libgbm, pango and cairo, expat, alsa, libxkbcommon, X11 and xcb, and
# libudev from systemd-libs, which Chrome dlopens) plus gtk3, libXcursor, libXi, libXtst and
# libXScrnSaver, which the Lambda Chrome images (umihico/docker-selenium-lambda) add for full Chrome.
# The same names on Amazon Linux 2 and 2023.
rpm_libs="nss nspr glib2 dbus-libs atk at-spi2-atk at-spi2-core cups-libs libdrm mesa-libgbm pango cairo
  expat alsa-lib libxkbcommon libX11 libxcb libXcomposite libXdamage libXext libXfixes libXrandr
  systemd-libs gtk3 libXcursor libXi libXtst libXScrnSaver unzip fontconfig"

if command -v apt-get >/dev/null 2>&1; then
  # The stand-in runs Debian's chromium (the full browser, under either browser's name): the Depends of
  # Debian's chromium and chromium-driver packages, a superset of full Chrome's list above in Debian's
  # names (Debian's build links system copies of what Chrome for Testing bundles: codecs, harfbuzz ...).
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libasound2 libatk-bridge2.0-0 libatk1.0-0 libatspi2.0-0 libcairo2 libcups2 libdav1d6 libdbus-1-3 \
    libdouble-conversion3 libdrm2 libexpat1 libflac12 libfontconfig1 libfreetype6 libgbm1 libglib2.0-0 \
    libgtk-3-0 libharfbuzz-subset0 libharfbuzz0b libjpeg62-turbo liblcms2-2 libminizip1 libnspr4 libnss3 \
    libopenh264-7 libopenjp2-7 libopus0 libpango-1.0-0 libpulse0 libudev1 libx11-6 libxcb1 libxcomposite1 \
    libxdamage1 libxext6 libxfixes3 libxkbcommon0 libxnvctrl0 libxrandr2 libzstd1 zlib1g \
    curl unzip fontconfig fonts-nanum >/dev/null
  apt-get clean
  rm -rf /var/lib/apt/lists/*
elif command -v dnf >/dev/null 2>&1 || command -v microdnf >/dev/null 2>&1; then
  dnf="$(command -v dnf || command -v microdnf)"
  # shellcheck disable=SC2086 # the list is split into package names on purpose
  "$dnf" install -y $rpm_libs google-noto-sans-cjk-fonts
  "$dnf" clean all
  rm -rf /var/cache/dnf /var/cache/yum
elif command -v yum >/dev/null 2>&1; then
  # shellcheck disable=SC2086 # the list is split into package names on purpose
  yum install -y -q $rpm_libs google-noto-sans-korean-fonts
  yum clean all
  rm -rf /var/cache/yum
else
  echo "browser-os-libs.sh: no apt-get, dnf, microdnf or yum in this base image" >&2
  exit 1
fi
