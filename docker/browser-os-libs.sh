#!/bin/sh
# The OS packages headless Chrome needs, for whichever package manager the Lambda base has:
#   yum       public.ecr.aws/lambda/python:3.11 (Amazon Linux 2)
#   dnf       public.ecr.aws/lambda/python:3.12 and later (Amazon Linux 2023; microdnf, maybe named dnf)
#   apt-get   the offline stand-in base (Debian bookworm), which runs Debian's Chromium build
# Besides the shared libraries: unzip (and curl) for the Chrome for Testing archives, fontconfig and a
# font with Hangul, because booking pages and screenshots are Korean. docker/check-browser.sh proves
# every library is found and a Korean font is there, so a wrong name here fails the build.
set -eu

# Chrome for Testing's own list (the libraries headless_shell and chromedriver link), Red Hat names.
rpm_libs="atk at-spi2-atk cups-libs gtk3 libXcomposite libXcursor libXdamage libXrandr libXScrnSaver libXtst
  alsa-lib mesa-libgbm nss pango libdrm libxkbcommon dbus-libs unzip fontconfig"

if command -v apt-get >/dev/null 2>&1; then
  # Debian's Chromium links system copies of what Chrome for Testing bundles (codecs, harfbuzz, ...),
  # so its list is longer: the Depends of Debian's chromium and chromium-driver packages.
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
