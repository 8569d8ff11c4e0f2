#!/usr/bin/env bash
# Pin a Chrome for Testing version: download the browser archive and chromedriver (linux64) once and
# record the version, the browser and both sha256 in docker/chrome-for-testing.pin, the way `make lock`
# records package hashes. Chrome for Testing publishes no checksums, so they are recorded on first download.
# Without a version, the current Stable from Chrome for Testing's last-known-good-versions JSON.
# Needs the download site (or CFT_BASE_URL, a mirror with the same layout; CFT_VERSIONS_URL, its JSON).
# CFT_BROWSER=chrome|chrome-headless-shell changes the browser archive; without it, the one the pin names.
# Usage: scripts/pin-chrome.sh [VERSION]   (default: CFT_VERSION, else the current Stable)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The knobs first: read_cft_pin sets these names from the pin file.
version="${1:-${CFT_VERSION:-}}" browser="${CFT_BROWSER:-}"
[[ -f "$CFT_PIN" ]] || die "CFT_PIN=$CFT_PIN does not exist"
# The pin's values are written anew, so one this parser refuses (a pin from before pins named their
# browser, a hand edit gone wrong) is no reason to stop: its error is shown, and full Chrome is the default.
if unreadable="$( (read_cft_pin) 2>&1 >/dev/null)"; then
  read_cft_pin
else
  warn "${unreadable#error: }: writing its values anew"
  CFT_BROWSER=chrome
fi
browser="${browser:-$CFT_BROWSER}"
check_cft_browser "$browser" "the CFT_BROWSER knob"
if [[ -z "$version" ]]; then
  info "reading Chrome for Testing's current Stable from $CFT_VERSIONS_URL"
  json="$(curl -fsSL "$CFT_VERSIONS_URL")" || die "cannot read $CFT_VERSIONS_URL: name a version with CFT_VERSION=<version>"
  version="$(python3 -c '
import json, sys
try:
    stable = json.loads(sys.argv[1])["channels"]["Stable"]
    version = stable["version"]
    for download in (sys.argv[2], "chromedriver"):
        if not any(d.get("platform") == "linux64" for d in stable["downloads"][download]):
            sys.exit(f"Stable {version} has no linux64 {download}")
except (ValueError, KeyError, TypeError, AttributeError) as err:
    sys.exit(f"not Chrome for Testing'"'"'s versions JSON ({type(err).__name__}: {err})")
print(version)
' "$json" "$browser")" || die "$CFT_VERSIONS_URL: see the line above"
fi
[[ "$version" =~ ^[0-9]+(\.[0-9]+){3}$ ]] ||
  die "CFT_VERSION='${version:0:40}' is not a Chrome for Testing version (e.g. 156.0.8078.47)"
base="${CFT_BASE_URL:-$CFT_SITE}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sums=()
for archive in "$browser-linux64" chromedriver-linux64; do
  info "downloading $archive $version"
  curl -fsSLo "$tmp/$archive.zip" "$base/$version/linux64/$archive.zip" ||
    die "download of $archive $version from $base failed (is $version a Chrome for Testing build? see $CFT_VERSIONS_URL)"
  sums+=("$(sha256sum "$tmp/$archive.zip" | cut -d' ' -f1)")
done
# The pin's comments stay; its four values are written anew.
{
  grep '^#' "$CFT_PIN" || true
  printf 'CFT_VERSION=%s\nCFT_BROWSER=%s\nCFT_BROWSER_SHA256=%s\nCFT_DRIVER_SHA256=%s\n' \
    "$version" "$browser" "${sums[0]}" "${sums[1]}"
} >"$CFT_PIN.tmp"
# Written beside the pin and renamed: one file system, so a kill leaves the old pin or the new one.
mv "$CFT_PIN.tmp" "$CFT_PIN"
info "pinned Chrome for Testing $version ($browser) in $CFT_PIN: commit it"
