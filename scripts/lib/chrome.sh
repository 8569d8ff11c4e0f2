# shellcheck shell=bash
# The Chrome for Testing pin the Lambda image's browser stage is built from.
# shellcheck disable=SC2034  # the variables set here are read by the scripts that source this file
# Sourced through scripts/lib.sh, and by docker/fetch-chrome.sh inside the Lambda build (which brings
# its own `die`), so the pin has one parser; do not run it. Amazon Linux 2's bash is 4.2: no ${x@Q}.

# check_cft_browser VALUE WHERE: VALUE names one of Chrome for Testing's two linux64 browser archives,
# each unpacking to a folder and executable of its own name: chrome (full Chrome, run with
# --headless=new) or chrome-headless-shell (the automation-only build).
check_cft_browser() {
  [[ "$1" == chrome || "$1" == chrome-headless-shell ]] ||
    die "$2: CFT_BROWSER='${1:0:40}' is not a Chrome for Testing browser (expected chrome or chrome-headless-shell)"
}

# read_cft_pin: CFT_VERSION, CFT_BROWSER, CFT_BROWSER_SHA256 and CFT_DRIVER_SHA256 from the pin file,
# parsed (never sourced): only those keys, each value checked, CFT_BROWSER required; an empty checksum
# stays empty for the caller to judge.
read_cft_pin() {
  local line key value lineno=0 seen=" "
  [[ -f "$CFT_PIN" ]] || die "CFT_PIN=$CFT_PIN does not exist"
  CFT_VERSION="" CFT_BROWSER="" CFT_BROWSER_SHA256="" CFT_DRIVER_SHA256=""
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    line="${line%$'\r'}" # a checkout with CRLF line endings (Windows' autocrlf) reads the same
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    key="${line%%=*}" value="${line#*=}"
    # A key given twice would let the last one pair one browser with another's checksum.
    [[ "$seen" != *" $key "* ]] || die "$CFT_PIN:$lineno: $key is given a second time"
    seen+="$key "
    case "$key" in
      CFT_VERSION) [[ -z "$value" || "$value" =~ ^[0-9]+(\.[0-9]+){3}$ ]] || die "$CFT_PIN:$lineno: CFT_VERSION='$value' is not a Chrome version (e.g. 131.0.6778.85)" ;;
      CFT_BROWSER) check_cft_browser "$value" "$CFT_PIN:$lineno" ;;
      CFT_BROWSER_SHA256 | CFT_DRIVER_SHA256) [[ -z "$value" || "$value" =~ ^[0-9a-f]{64}$ ]] || die "$CFT_PIN:$lineno: $key is not a sha256 (64 hex digits)" ;;
      # A pin written before the pin named its browser: say how to read it now rather than "unknown".
      CFT_SHELL_SHA256) die "$CFT_PIN:$lineno: CFT_SHELL_SHA256 is now CFT_BROWSER_SHA256 with CFT_BROWSER=chrome-headless-shell (or run 'make pin-chrome')" ;;
      *) die "$CFT_PIN:$lineno: unknown line '${line:0:40}' (expected CFT_VERSION, CFT_BROWSER, CFT_BROWSER_SHA256, CFT_DRIVER_SHA256)" ;;
    esac
    printf -v "$key" '%s' "$value"
  done <"$CFT_PIN"
  [[ -n "$CFT_BROWSER" ]] ||
    die "$CFT_PIN names no browser: add CFT_BROWSER=chrome (full Chrome) or CFT_BROWSER=chrome-headless-shell"
}
