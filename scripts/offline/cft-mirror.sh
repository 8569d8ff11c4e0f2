#!/usr/bin/env bash
# Offline machines only: a Chrome for Testing mirror made from Debian's chromium and chromedriver, as
# this machine's apt sources have them (Debian bookworm: the stand-in base's suite, so the libraries they
# link are the ones it installs).
# Same layout as the real download site — VERSION/linux64/chrome-headless-shell-linux64.zip and
# chromedriver-linux64.zip — plus chrome-for-testing.pin (version and sha256 of both zips), so the
# Lambda image's browser stage downloads and verifies it through CFT_BASE_URL exactly as it does the
# real one. Prints the mirror's directory; an existing mirror is reused.
# Usage: scripts/offline/cft-mirror.sh [DIR]   (default .cache/cft-mirror)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$REPO_ROOT/scripts/offline/lib.sh"

dir="${1:-$CACHE_DIR/cft-mirror}"
pin="$dir/chrome-for-testing.pin"
if [[ -f "$pin" ]]; then
  printf '%s\n' "$dir"
  exit 0
fi
require_cmd dpkg-deb "the mirror unpacks Debian packages"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt downloads as its own _apt user

info "making a Chrome for Testing mirror from Debian's chromium (offline machines only)"
# This machine's own apt sources (bookworm and its security updates, where Debian ships Chromium).
mkdir -p "$work/apt/sources"
cp /etc/apt/sources.list.d/*.sources "$work/apt/sources/" 2>/dev/null || true
[[ ! -s /etc/apt/sources.list ]] || cp /etc/apt/sources.list "$work/apt/sources/system.list"
apt_download "$work/apt" chromium chromium-common chromium-driver
for deb in "$work"/apt/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
debian_version="$(dpkg-deb --field "$work"/apt/chromium_*.deb Version)"
version="${debian_version%%-*}"
[[ "$version" =~ ^[0-9]+(\.[0-9]+){3}$ ]] || die "Debian's chromium version '$debian_version' is not a Chrome version"

# Chrome for Testing's archives each hold one folder; Debian's browser binary takes the shell's name.
shell="$work/zip/chrome-headless-shell-linux64"
driver="$work/zip/chromedriver-linux64"
mkdir -p "$shell" "$driver"
cp -a "$work/root/usr/lib/chromium/." "$shell/"
mv "$shell/chromium" "$shell/chrome-headless-shell"
cp -a "$work/root/usr/bin/chromedriver" "$driver/"

out="$dir/$version/linux64"
mkdir -p "$out"
sums=()
for archive in chrome-headless-shell-linux64 chromedriver-linux64; do
  info "packing $archive.zip"
  # zipfile keeps each file's mode, so unzip restores the executables' run bit.
  (cd "$work/zip" && python3 -m zipfile -c "$out/$archive.zip" "$archive")
  sums+=("$(sha256sum "$out/$archive.zip" | cut -d' ' -f1)")
done
# Written last: a mirror without its pin is unfinished and gets made again.
printf '# Local mirror of Debian chromium %s (offline machines only)\nCFT_VERSION=%s\nCFT_SHELL_SHA256=%s\nCFT_DRIVER_SHA256=%s\n' \
  "$debian_version" "$version" "${sums[0]}" "${sums[1]}" >"$pin.tmp"
mv "$pin.tmp" "$pin"
info "mirror of Chrome $version (Debian $debian_version) in $dir"
printf '%s\n' "$dir"
