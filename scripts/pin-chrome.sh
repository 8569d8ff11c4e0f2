#!/usr/bin/env bash
# Pin a Chrome for Testing version: download chrome-headless-shell and chromedriver (linux64) once and
# record the version and both sha256 in docker/chrome-for-testing.pin, the way `make lock` records
# package hashes. Needs the download site (or CFT_BASE_URL, a mirror with the same layout).
# Usage: scripts/pin-chrome.sh [VERSION]   (default: CFT_VERSION, else the pin's version)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

requested="${1:-${CFT_VERSION:-}}" # read before the pin's own values replace CFT_VERSION
read_cft_pin
version="${requested:-$CFT_VERSION}"
[[ "$version" =~ ^[0-9]+(\.[0-9]+){3}$ ]] ||
  die "usage: make pin-chrome CFT_VERSION=<version> (a stable version from last-known-good-versions-with-downloads.json)"
base="${CFT_BASE_URL:-$CFT_SITE}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sums=()
for archive in chrome-headless-shell-linux64 chromedriver-linux64; do
  info "downloading $archive $version"
  curl -fsSLo "$tmp/$archive.zip" "$base/$version/linux64/$archive.zip" || die "download of $archive $version failed"
  sums+=("$(sha256sum "$tmp/$archive.zip" | cut -d' ' -f1)")
done
# The pin's comments stay; its three values are written anew.
{
  grep '^#' "$CFT_PIN" || true
  printf 'CFT_VERSION=%s\nCFT_SHELL_SHA256=%s\nCFT_DRIVER_SHA256=%s\n' "$version" "${sums[0]}" "${sums[1]}"
} >"$tmp/pin"
mv "$tmp/pin" "$CFT_PIN"
info "pinned Chrome for Testing $version in $CFT_PIN: commit it"
