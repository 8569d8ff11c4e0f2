#!/usr/bin/env bash
# The browser stage's Chrome for Testing: chrome-headless-shell and chromedriver (linux64) at the pinned
# version, each archive verified by sha256 before it is unpacked into /opt/chrome.
# The values come from the pin file the build context carries (docker/chrome-for-testing.pin), so a plain
# `docker build .` builds what is committed; CFT_VERSION, CFT_SHELL_SHA256 and CFT_DRIVER_SHA256 given as
# build args override it (scripts/build.sh passes an offline mirror's own pin that way). The pin's
# checksums count only for the pin's own version.
# Usage (in the Dockerfile): fetch-chrome.sh PIN_FILE   with CFT_BASE_URL set
set -euo pipefail

pin="$1"
fail() {
  echo "error: $*" >&2
  exit 1
}
pinned() { sed -n "s/^$1=//p" "$pin" | head -n 1; }

version="${CFT_VERSION:-$(pinned CFT_VERSION)}"
[[ "$version" =~ ^[0-9]+(\.[0-9]+){3}$ ]] ||
  fail "Chrome for Testing version '$version' is not a version (docker/chrome-for-testing.pin or --build-arg CFT_VERSION)"
shell_sha="${CFT_SHELL_SHA256:-}" driver_sha="${CFT_DRIVER_SHA256:-}"
if [[ "$version" == "$(pinned CFT_VERSION)" ]]; then
  shell_sha="${shell_sha:-$(pinned CFT_SHELL_SHA256)}" driver_sha="${driver_sha:-$(pinned CFT_DRIVER_SHA256)}"
fi
[[ -n "$shell_sha" && -n "$driver_sha" ]] ||
  fail "docker/chrome-for-testing.pin has no sha256 for Chrome for Testing $version: run 'make pin-chrome' on a machine that reaches Chrome for Testing (or the pin-chrome workflow) and commit the pin"

for archive in chrome-headless-shell chromedriver; do
  curl -fsSLo "/tmp/$archive.zip" "$CFT_BASE_URL/$version/linux64/$archive-linux64.zip"
done
# Both checked before either is unpacked: a mirror must serve the same bytes, the checksums decide.
printf '%s  %s\n' "$shell_sha" /tmp/chrome-headless-shell.zip "$driver_sha" /tmp/chromedriver.zip | sha256sum -c -
mkdir -p /opt/chrome
for archive in chrome-headless-shell chromedriver; do
  unzip -q "/tmp/$archive.zip" -d /tmp
  cp -a "/tmp/$archive-linux64/." /opt/chrome/
  rm -rf "/tmp/$archive.zip" "/tmp/$archive-linux64"
done
ln -s /opt/chrome/chrome-headless-shell /opt/chrome/chrome
