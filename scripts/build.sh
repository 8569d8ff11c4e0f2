#!/usr/bin/env bash
# Build IMAGE (lambda|worker) with docker buildx, load it, tag :latest and :<git sha>.
# Knobs: LAMBDA_RUNTIME_STAGE (an image to build the Lambda app on instead of the Chrome for Testing
# stage), WORKER_PYTHON_BASE, BUILD_CACHE_FROM / BUILD_CACHE_TO (buildx cache specs, e.g. type=gha),
# NO_CACHE=1 (a cold build).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_cmd docker "run 'make docker-engine'"
docker buildx version >/dev/null 2>&1 || die "docker buildx is missing; run 'make docker-engine'"
name="$(image_name)"
sha="$(git_sha_tag)"
mkdir -p build
log="build/$IMAGE-build.log"

flags=(
  --load
  --network "$DOCKER_NETWORK"
  # Lambda rejects image indexes with attestations ("image manifest ... not supported").
  --provenance=false --sbom=false
  --progress=plain
  --tag "$name:latest" --tag "$name:$sha"
)
[[ "${NO_CACHE:-0}" == 1 ]] && flags+=(--no-cache)
[[ -n "${BUILD_CACHE_FROM:-}" ]] && flags+=(--cache-from "$BUILD_CACHE_FROM")
[[ -n "${BUILD_CACHE_TO:-}" ]] && flags+=(--cache-to "$BUILD_CACHE_TO")

if [[ "$IMAGE" == lambda ]]; then
  # The function's architecture: Chrome for Testing publishes linux64 (amd64) only.
  flags+=(--platform linux/amd64 --file Dockerfile)
  if [[ -n "${LAMBDA_RUNTIME_STAGE:-}" ]]; then
    flags+=(--build-arg "RUNTIME_STAGE=$LAMBDA_RUNTIME_STAGE")
  else
    # shellcheck source=/dev/null  # a data file of KEY=VALUE lines, not a script
    source docker/chrome-for-testing.pin
    for var in CFT_VERSION CFT_SHELL_SHA256 CFT_DRIVER_SHA256; do
      require_var "$var" "record it with scripts/pin-chrome.sh VERSION (docker/chrome-for-testing.pin)"
      flags+=(--build-arg "$var=${!var}")
    done
  fi
  [[ -n "${LAMBDA_BASE:-}" ]] && flags+=(--build-arg "LAMBDA_BASE=$LAMBDA_BASE")
else
  flags+=(--file docker/worker.Dockerfile)
  [[ -n "${WORKER_PYTHON_BASE:-}" ]] && flags+=(--build-arg "PYTHON_BASE=$WORKER_PYTHON_BASE")
fi

info "building $name ($sha); log: $log"
start=$SECONDS
if ! (set -x; docker buildx build "${flags[@]}" .) >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  die "build of $name failed; full log: $log"
fi
info "built $name:$sha and $name:latest in $((SECONDS - start)) s"
