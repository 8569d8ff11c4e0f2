#!/usr/bin/env bash
# Pin a Chrome for Testing version: download chrome-headless-shell and chromedriver (linux64) once,
# record the version and both sha256 in docker/chrome-for-testing.pin. Needs internet access.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version="${1:-}"
[[ -n "$version" ]] || die "usage: scripts/pin-chrome.sh VERSION (see last-known-good-versions-with-downloads.json)"
base="${CFT_BASE_URL:-https://storage.googleapis.com/chrome-for-testing-public}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sums=()
for archive in chrome-headless-shell-linux64 chromedriver-linux64; do
  info "downloading $archive $version"
  curl -fsSLo "$tmp/$archive.zip" "$base/$version/linux64/$archive.zip" || die "download of $archive $version failed"
  sums+=("$(sha256sum "$tmp/$archive.zip" | cut -d' ' -f1)")
done
pin="docker/chrome-for-testing.pin"
sed -i -e "s/^CFT_VERSION=.*/CFT_VERSION=$version/" -e "s/^CFT_SHELL_SHA256=.*/CFT_SHELL_SHA256=${sums[0]}/" \
  -e "s/^CFT_DRIVER_SHA256=.*/CFT_DRIVER_SHA256=${sums[1]}/" "$pin"
info "pinned Chrome for Testing $version in $pin"
