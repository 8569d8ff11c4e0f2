# shellcheck shell=bash
# The settings file local runs read, and the AWS credentials they may pass on.
# shellcheck disable=SC2034  # the variables set here are read by the scripts that source this file
# Sourced through scripts/lib.sh; do not run it.

# local_env_file: the settings file local runs read: ENV_FILE, else .env, else .env.example (dry run).
local_env_file() {
  local file="${ENV_FILE:-.env}"
  if [[ ! -f "$file" ]]; then
    [[ -z "${ENV_FILE:-}" ]] || die "ENV_FILE=$file does not exist"
    warn ".env not found: using .env.example (dry-run SMS); copy it to .env to change settings"
    file=.env.example
  fi
  printf '%s' "$file"
}

# each_env_file_entry FILE FUNCTION: read FILE as `docker run --env-file` does and call FUNCTION KEY
# [VALUE] for each entry (no VALUE for a bare KEY, which takes the shell's value in docker). The one
# reader of env files, so run-local and run-rie see the same settings. Docker's rules (Docker 20.10
# opts/envfile.go): a UTF-8 byte order mark and a line's leading white space are dropped, and so is a CRLF
# file's \r (Go's line scanner drops it: APP_ENV=production\r is production there, so it must be here);
# `#` lines and blank lines are skipped; the value is everything after the first `=`, taken literally
# (quotes and an inline `#` included). A key with white space in it (`export KEY=…`) is refused, as
# Docker refuses it, with the value never shown: it may be a secret.
each_env_file_entry() {
  # Underscored: FUNCTION sees these locals, and they must not hide a variable the file sets.
  local _line _key _lineno=0
  while IFS= read -r _line || [[ -n "$_line" ]]; do
    _lineno=$((_lineno + 1))
    _line="${_line%$'\r'}"
    ((_lineno > 1)) || _line="${_line#$'\xef\xbb\xbf'}"
    _line="${_line#"${_line%%[![:space:]]*}"}"
    [[ -z "$_line" || "$_line" == "#"* ]] && continue
    _key="${_line%%=*}"
    # Only the part before `=` is shown: the value may be a secret (`export SENS_SECRET_KEY=…`).
    [[ "$_key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
      die "$1:$_lineno: expected KEY=VALUE, got a line whose key is '${_key:0:40}' (its value is not shown; Docker's --env-file takes no 'export ' and no spaces around '=')"
    if [[ "$_line" == *=* ]]; then "$2" "$_key" "${_line#*=}"; else "$2" "$_key"; fi
  done <"$1"
}

# export_env_file FILE: export each variable FILE sets that is not already set in this shell, so
# `make run-local` sees what `make run-rie` sees and the shell still wins.
export_env_file() { each_env_file_entry "$1" _export_unless_set; }
_export_unless_set() {
  # A bare KEY (no value) takes the shell's value, as docker does: nothing to export.
  (($# == 2)) || return 0
  [[ -n "${!1+set}" ]] || export "$1=$2"
}

# shell_env_overrides FILE: the names of FILE's variables that this shell's environment also sets, one a
# line. `docker run --env-file` would give the file's value; `--env NAME` for each gives the shell's, and
# names only keep values (secrets) off the command line: docker reads them from its environment.
shell_env_overrides() { each_env_file_entry "$1" _print_if_exported; }
_print_if_exported() {
  # Exported only: a shell variable that is not exported never reaches docker's environment.
  if [[ "$(declare -p "$1" 2>/dev/null)" =~ ^declare\ -[a-zA-Z-]*x ]]; then printf '%s\n' "$1"; fi
}

# AWS_PASSTHROUGH: the credentials a local run may use (environment or a named profile), by name only.
AWS_PASSTHROUGH=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL)
