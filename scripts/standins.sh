#!/usr/bin/env bash
# Build local stand-ins for base images that cannot be pulled offline (tests and CI only):
#   python:3.13-slim-trixie            Debian trixie + python3.13 (the worker's base)
#   naver-sms-standin/lambda-browser   Debian bookworm + python3.11 + Lambda layout + RIE +
#                                      Debian chromium/chromedriver at the CfT paths
# Each is skipped when an image built from the same inputs exists. They carry this machine's proxy CA
# so pip works inside builds; production images never see them (see docs/infra/containers.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKER_BASE="${WORKER_BASE:-python:3.13-slim-trixie}"
LAMBDA_STANDIN="${LAMBDA_STANDIN:-naver-sms-standin/lambda-browser:3.11}"
STANDIN_DIR="$REPO_ROOT/docker/standin"

inputs_hash() {
  cat "${BASH_SOURCE[0]}" "$STANDIN_DIR"/* | sha256sum | cut -c1-12
}

already_built() {
  [[ "$(docker image inspect --format '{{index .Config.Labels "standin.inputs"}}' "$1" 2>/dev/null)" == "$(inputs_hash)" ]]
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
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot_run "$root" update-ca-certificates >/dev/null
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

import_root() {
  local root="$1" tag="$2"
  shift 2
  tar -C "$root" -c . | docker import --change "LABEL standin.inputs=$(inputs_hash)" "$@" - "$tag" >/dev/null
  info "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec))"
}

build_worker_base() {
  already_built "$WORKER_BASE" && return 0
  local root="$WORK/slim"
  bootstrap_root trixie "$root" python3.13 python3.13-venv
  install_pip "$root" python3.13
  local bin
  for bin in python python3 python3.13; do ln -sf /usr/bin/python3.13 "$root/usr/local/bin/$bin"; done
  slim_down "$root"
  import_root "$root" "$WORKER_BASE" \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'ENV PYTHON_VERSION=3.13' --change 'CMD ["python3"]'
}

build_lambda_standin() {
  already_built "$LAMBDA_STANDIN" && return 0
  local root="$WORK/lambda"
  bootstrap_root bookworm "$root" python3.11 python3-pip-whl chromium chromium-driver fonts-liberation
  install_pip "$root" python3.11
  mkdir -p "$root/var/task" "$root/var/runtime" "$root/opt/chrome"
  # The Lambda image's browser stage puts Chrome for Testing here; point the same paths at Debian's.
  ln -sf /usr/bin/chromium "$root/opt/chrome/chrome"
  ln -sf /usr/bin/chromedriver "$root/opt/chrome/chromedriver"
  # The official base ships awslambdaric and boto3 in /var/runtime.
  chroot_run "$root" python3.11 -m pip install --quiet --no-cache-dir --root-user-action=ignore --target /var/runtime awslambdaric boto3
  install -m 0755 "$(rie_binary)" "$root/usr/local/bin/aws-lambda-rie"
  install -m 0755 "$STANDIN_DIR/lambda-entrypoint.sh" "$root/lambda-entrypoint.sh"
  install -m 0755 "$STANDIN_DIR/bootstrap" "$root/var/runtime/bootstrap"
  ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python"
  ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python3"
  slim_down "$root"
  import_root "$root" "$LAMBDA_STANDIN" \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' --change 'WORKDIR /var/task' \
    --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]'
}

require_cmd docker "run 'make docker-engine' first"
require_cmd debootstrap "apt-get install debootstrap"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
build_worker_base
build_lambda_standin
