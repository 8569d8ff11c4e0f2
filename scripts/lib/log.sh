# shellcheck shell=bash
# Logging and the checks that stop a script with a message naming what is wrong.
# Sourced through scripts/lib.sh; do not run it.

_colour() {
  # Colour only on a terminal and never when NO_COLOR is set (https://no-color.org).
  if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then printf '\033[%sm' "$1"; fi
}
info() { printf '%s==>%s %s\n' "$(_colour '1;34')" "$(_colour 0)" "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$(_colour '1;33')" "$(_colour 0)" "$*" >&2; }
die() {
  printf '%serror:%s %s\n' "$(_colour '1;31')" "$(_colour 0)" "$*" >&2
  exit 1
}

# require_var NAME [hint]: stop with a message naming NAME when it is unset or empty.
require_var() {
  local name="$1" hint="${2:-}"
  [[ -n "${!name:-}" ]] || die "$name is not set${hint:+: $hint}"
}

# require_one_of NAME VALUE...: stop unless NAME holds one of the listed values.
require_one_of() {
  local name="$1"
  shift
  local value="${!name:-}" allowed
  for allowed in "$@"; do [[ "$value" == "$allowed" ]] && return 0; done
  die "$name='$value' is not valid: expected one of: $*"
}

require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed${2:+: $2}"
}
