#!/usr/bin/env bash
# Offline machines only: a Chrome for Testing mirror made from Debian's chromium and chromedriver, as
# this machine's apt sources have them (Debian bookworm: the stand-in base's suite, so the libraries they
# link are the ones it installs).
# Same layout as the real download site — VERSION/linux64/chrome-linux64.zip,
# chrome-headless-shell-linux64.zip and chromedriver-linux64.zip — so a pin of either browser builds
# offline, plus one pin per browser (chrome.pin, chrome-headless-shell.pin: version, browser and sha256),
# so the Lambda image's browser stage downloads and verifies it through CFT_BASE_URL exactly as it does
# the real one. Prints the mirror's directory; a finished mirror is reused, any other made again.
# Usage: scripts/offline/cft-mirror.sh [DIR]   (default CFT_MIRROR_DIR, .cache/cft-mirror)
# CHROMIUM_DEBS=FOLDER takes the .debs from there instead of from apt.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$REPO_ROOT/scripts/offline/lib.sh"

dir="${1:-$CFT_MIRROR_DIR}"
browsers=(chrome chrome-headless-shell)

# finished: both browsers' pins are there and parse as pins of their browser. A mirror made before the
# pin named its browser (one chrome-for-testing.pin, no chrome-linux64.zip) is not, and is made again.
finished() {
  local browser
  for browser in "${browsers[@]}"; do
    # A subshell: read_cft_pin dies on a bad pin, which here only means "not finished".
    (CFT_PIN="$dir/$browser.pin" && read_cft_pin && [[ "$CFT_BROWSER" == "$browser" ]]) 2>/dev/null || return 1
  done
}
if finished; then
  printf '%s\n' "$dir"
  exit 0
fi
require_cmd dpkg-deb "the mirror unpacks Debian packages"
# The zips record each entry's mode: a fixed umask keeps them the same bytes for every user (a umask of
# 002 or 022, sudo or not), so one machine's mirrors share one checksum and one build cache.
umask 022
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt downloads as its own _apt user

info "making a Chrome for Testing mirror from Debian's chromium (offline machines only)"
debs="${CHROMIUM_DEBS:-}"
if [[ -z "$debs" ]]; then
  # This machine's own apt sources (bookworm and its security updates, where Debian ships Chromium).
  # Elsewhere (Ubuntu's chromium is a snap shim) name a folder of Debian's .debs in CHROMIUM_DEBS.
  [[ "$(os_id)" == debian ]] ||
    die "the offline Chrome mirror is made of Debian's chromium: this is $(os_id); set CHROMIUM_DEBS to a folder of Debian's chromium, chromium-common and chromium-driver .debs"
  debs="$work/apt"
  mkdir -p "$debs/sources"
  cp /etc/apt/sources.list.d/*.sources "$debs/sources/" 2>/dev/null || true
  [[ ! -s /etc/apt/sources.list ]] || cp /etc/apt/sources.list "$debs/sources/system.list"
  apt_download "$debs" chromium chromium-common chromium-driver
fi
for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
chromium_debs=("$debs"/chromium_*.deb)
[[ -f "${chromium_debs[0]}" ]] || die "no chromium_*.deb in $debs"
debian_version="$(dpkg-deb --field "${chromium_debs[0]}" Version)"
version="${debian_version%%-*}"
[[ "$version" =~ ^[0-9]+(\.[0-9]+){3}$ ]] || die "Debian's chromium version '$debian_version' is not a Chrome version"

# Chrome for Testing's archives each hold one folder, BROWSER-linux64/, whose executable is named BROWSER:
# Debian's browser binary takes each browser's name in turn (Debian ships one build, the full browser).
# Copies dereference symlinks (Debian's /usr/bin/chromedriver is one, to ../lib/chromium/chromedriver
# since 156.0.8078.114-1~deb12u1): zipfile skips a dangling link, which would leave an empty archive.
for browser in "${browsers[@]}"; do
  folder="$work/zip/$browser-linux64"
  mkdir -p "$folder"
  cp -rL --preserve=mode "$work/root/usr/lib/chromium/." "$folder/"
  mv "$folder/chromium" "$folder/$browser"
  rm -f "$folder/chromedriver" # the driver has an archive of its own
done
driver="$work/zip/chromedriver-linux64"
mkdir -p "$driver"
cp -L --preserve=mode "$work/root/usr/bin/chromedriver" "$driver/chromedriver"
# Every entry dated as the package's browser binary: the same package always packs into the same bytes,
# so a mirror made again (a fresh clone) has the same checksums and the build cache still holds.
find "$work/zip" -exec touch -h -r "$work/root/usr/lib/chromium/chromium" {} +

out="$dir/$version/linux64"
mkdir -p "$out"
# An older or unfinished mirror's pins go first: until the new ones are written, nothing is reused.
rm -f "$dir"/*.pin
declare -A sums
check="$work/check"
for archive in "${browsers[@]}" chromedriver; do
  info "packing $archive-linux64.zip"
  # zipfile keeps each file's mode, so unzip restores the executables' run bit.
  (cd "$work/zip" && python3 -m zipfile -c "$out/$archive-linux64.zip" "$archive-linux64")
  sums[$archive]="$(sha256sum "$out/$archive-linux64.zip" | cut -d' ' -f1)"
  # Unpacked again, it must hold an executable that reports the version it is named for: a package
  # whose layout moved (or a snap shim under Debian's name) fails here, not in a build later.
  entry="$archive-linux64/$archive"
  python3 -c '
import sys, zipfile
archive, entry, folder = sys.argv[1:]
with zipfile.ZipFile(archive) as zf:
    if entry not in zf.namelist() or not (zf.getinfo(entry).external_attr >> 16) & 0o111:
        sys.exit(f"{archive} holds no executable {entry}")
    zf.extract(entry, folder)
' "$out/$archive-linux64.zip" "$entry" "$check" || die "Debian's package layout is not what this script expects"
  chmod +x "$check/$entry"
  reported="$("$check/$entry" --version 2>&1 || true)"
  [[ "$reported" == *" $version"* ]] ||
    die "$archive in $archive-linux64.zip reports '${reported:0:80}', not $version"
done
# Written last: a mirror without both pins is unfinished and gets made again.
for browser in "${browsers[@]}"; do
  printf '# Local mirror of Debian chromium %s (offline machines only)\nCFT_VERSION=%s\nCFT_BROWSER=%s\nCFT_BROWSER_SHA256=%s\nCFT_DRIVER_SHA256=%s\n' \
    "$debian_version" "$version" "$browser" "${sums[$browser]}" "${sums[chromedriver]}" >"$dir/$browser.pin.tmp"
  mv "$dir/$browser.pin.tmp" "$dir/$browser.pin"
done
info "mirror of Chrome $version (Debian $debian_version) in $dir"
printf '%s\n' "$dir"
