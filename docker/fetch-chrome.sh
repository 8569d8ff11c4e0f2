#!/usr/bin/env bash
# The browser stage's Chrome for Testing: the pinned browser archive (CFT_BROWSER: chrome or
# chrome-headless-shell) and chromedriver (linux64) at the pinned version, each archive verified by sha256
# before it is unpacked into /opt/chrome, where /opt/chrome/chrome is the browser either way.
# The values come from the pin file the build context carries (docker/chrome-for-testing.pin), so a plain
# `docker build .` builds what is committed; CFT_VERSION, CFT_BROWSER, CFT_BROWSER_SHA256 and
# CFT_DRIVER_SHA256 given as build args override it (scripts/build.sh passes an offline mirror's own pin
# that way). The pin's checksums count only for the pin's own version and browser.
# Usage (in the Dockerfile): fetch-chrome.sh PIN_FILE   with CFT_BASE_URL set
set -euo pipefail

die() {
  echo "error: $*" >&2
  exit 1
}
# The pin's parser, the same one scripts/build.sh uses (copied in beside this script).
# shellcheck source=../scripts/lib/chrome.sh
source "$(dirname "${BASH_SOURCE[0]}")/chrome.sh"

arg_version="${CFT_VERSION:-}" arg_browser="${CFT_BROWSER:-}"
arg_browser_sha="${CFT_BROWSER_SHA256:-}" arg_driver_sha="${CFT_DRIVER_SHA256:-}"
CFT_PIN="$1"
read_cft_pin
if [[ -n "$arg_version" && "$arg_version" != "$CFT_VERSION" ]]; then
  CFT_VERSION="$arg_version" CFT_BROWSER_SHA256="" CFT_DRIVER_SHA256=""
fi
if [[ -n "$arg_browser" && "$arg_browser" != "$CFT_BROWSER" ]]; then
  check_cft_browser "$arg_browser" "--build-arg CFT_BROWSER"
  CFT_BROWSER="$arg_browser" CFT_BROWSER_SHA256=""
fi
version="$CFT_VERSION" browser="$CFT_BROWSER"
[[ "$version" =~ ^[0-9]+(\.[0-9]+){3}$ ]] ||
  die "Chrome for Testing version '$version' is not a version (docker/chrome-for-testing.pin or --build-arg CFT_VERSION)"
browser_sha="${arg_browser_sha:-$CFT_BROWSER_SHA256}" driver_sha="${arg_driver_sha:-$CFT_DRIVER_SHA256}"
[[ -n "$browser_sha" && -n "$driver_sha" ]] ||
  die "docker/chrome-for-testing.pin has no sha256 for Chrome for Testing $version ($browser): run 'make pin-chrome' on a machine that reaches Chrome for Testing (or the pin-chrome workflow) and commit the pin"

# Each archive holds one folder of its own name, ARCHIVE-linux64/, with an executable named ARCHIVE.
archives=("$browser" chromedriver)
for archive in "${archives[@]}"; do
  curl -fsSLo "/tmp/$archive.zip" "$CFT_BASE_URL/$version/linux64/$archive-linux64.zip"
done
# Both checked before either is unpacked: a mirror must serve the same bytes, the checksums decide.
printf '%s  %s\n' "$browser_sha" "/tmp/$browser.zip" "$driver_sha" /tmp/chromedriver.zip | sha256sum -c -
mkdir -p /opt/chrome
for archive in "${archives[@]}"; do
  unzip -q "/tmp/$archive.zip" -d /tmp
  cp -a "/tmp/$archive-linux64/." /opt/chrome/
  rm -rf "/tmp/$archive.zip" "/tmp/$archive-linux64"
done
# CHROME_BIN is /opt/chrome/chrome: full Chrome's executable has that name, the shell's gets it as a link.
[[ "$browser" == chrome ]] || ln -s "/opt/chrome/$browser" /opt/chrome/chrome
[[ -x /opt/chrome/chrome ]] || die "$browser-linux64.zip holds no executable $browser-linux64/$browser"
