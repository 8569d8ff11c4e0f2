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

# export_env_file FILE: read it as `docker run --env-file` does, and export each variable not already
# set in this shell, so `make run-local` and `make run-rie` see the same settings and the shell still
# wins. Docker's rules (Docker 20.10 opts/envfile.go): a UTF-8 byte order mark and a line's leading white
# space are dropped, and so is a CRLF file's \r (Go's line scanner drops it: APP_ENV=production\r is
# production there, so it must be here); `#` lines and blank lines are skipped; the value is everything
# after the first `=`, taken literally (quotes and an inline `#` included); a bare KEY takes the shell's
# value. A key with white space in it (`export KEY=…`) is refused, as Docker refuses it, with the value
# never shown: it may be a secret.
export_env_file() {
  local line key lineno=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    line="${line%$'\r'}"
    ((lineno > 1)) || line="${line#$'\xef\xbb\xbf'}"
    line="${line#"${line%%[![:space:]]*}"}"
    [[ -z "$line" || "$line" == "#"* ]] && continue
    key="${line%%=*}"
    # Only the part before `=` is shown: the value may be a secret (`export SENS_SECRET_KEY=…`).
    [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
      die "$1:$lineno: expected KEY=VALUE, got a line whose key is '${key:0:40}' (its value is not shown; Docker's --env-file takes no 'export ' and no spaces around '=')"
    [[ "$line" == *=* ]] || continue # a bare KEY takes the shell's value, as docker does
    [[ -n "${!key+set}" ]] || export "$key=${line#*=}"
  done <"$1"
}

# AWS_PASSTHROUGH: the credentials a local run may use (environment or a named profile), by name only.
AWS_PASSTHROUGH=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL)
