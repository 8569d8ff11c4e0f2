#!/usr/bin/env bash
# Build IMAGE (lambda|worker) with docker buildx, load it, tag :latest and :<git sha>.
# On the official bases; only when one cannot be pulled (an offline machine) on the local stand-ins
# from `make standins`, built on first use, saying so. The Lambda image's browser stage is built either
# way: on a stand-in base, from a local Chrome for Testing mirror of Debian's chromium
# (scripts/offline/cft-mirror.sh).
# Knobs: LAMBDA_BASE, CFT_BASE_URL (a mirror of the Chrome for Testing site), CFT_PIN (another pin file),
# CFT_MIRROR_PORT (the local mirror's port, 8765), WORKER_PYTHON_BASE, BUILD_CACHE_FROM / BUILD_CACHE_TO
# (buildx cache specs, e.g. type=gha), NO_CACHE=1 (a cold build).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/scripts/offline/lib.sh" # the fallback for machines that cannot pull a base

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
[[ "$NO_CACHE" == 1 ]] && flags+=(--no-cache)
[[ -n "${BUILD_CACHE_FROM:-}" ]] && flags+=(--cache-from "$BUILD_CACHE_FROM")
[[ -n "${BUILD_CACHE_TO:-}" ]] && flags+=(--cache-to "$BUILD_CACHE_TO")

if [[ "$IMAGE" == lambda ]]; then
  # The function's architecture: Chrome for Testing publishes linux64 (amd64) only.
  flags+=(--platform linux/amd64 --file Dockerfile)
  base="${LAMBDA_BASE:-$LAMBDA_BASE_IMAGE}"
  pullable "$base" || use_standins "$base"
  if is_standin "$base"; then
    info "Lambda base: the local stand-in for $base"
    [[ -n "${CFT_BASE_URL:-}" ]] || serve_cft_mirror
  else
    info "Lambda base: $base"
  fi
  read_cft_pin
  require_var CFT_VERSION "name a Chrome for Testing version: make pin-chrome CFT_VERSION=<version>"
  # Like a lock file: recorded once by `make pin-chrome` on a connected machine and committed. A build
  # never writes the pin (a tracked file) and never trusts an archive unverified.
  [[ -n "$CFT_BROWSER_SHA256" && -n "$CFT_DRIVER_SHA256" ]] ||
    die "$CFT_PIN has no checksums for Chrome for Testing $CFT_VERSION ($CFT_BROWSER): run 'make pin-chrome' and commit the pin"
  info "Chrome for Testing $CFT_VERSION ($CFT_BROWSER) from ${CFT_BASE_URL:-the Chrome for Testing site}"
  # The committed pin the Dockerfile reads itself: no build args for it, so `make build` and a plain
  # `docker build .` share one cache. Another pin (the offline mirror's, CFT_PIN) goes in as build args.
  if [[ ! "$CFT_PIN" -ef "$REPO_ROOT/docker/chrome-for-testing.pin" ]]; then
    for var in CFT_VERSION CFT_BROWSER CFT_BROWSER_SHA256 CFT_DRIVER_SHA256; do
      flags+=(--build-arg "$var=${!var}")
    done
  fi
  [[ -n "${CFT_BASE_URL:-}" ]] && flags+=(--build-arg "CFT_BASE_URL=$CFT_BASE_URL")
  [[ -n "${LAMBDA_BASE:-}" ]] && flags+=(--build-arg "LAMBDA_BASE=$LAMBDA_BASE")
else
  flags+=(--file docker/worker.Dockerfile)
  base="${WORKER_PYTHON_BASE:-$WORKER_BASE_IMAGE}"
  # The stand-in carries the official tag, so the Dockerfile is the same either way.
  pullable "$base" || use_standins "$base"
  if is_standin "$base"; then info "worker base: the local stand-in for $base"; else info "worker base: $base"; fi
  [[ -n "${WORKER_PYTHON_BASE:-}" ]] && flags+=(--build-arg "PYTHON_BASE=$WORKER_PYTHON_BASE")
fi

info "building $name ($sha); log: $log"
start=$SECONDS
# Progress: each build step's first line as BuildKit starts it (a cold Lambda build takes minutes).
if ! (set -x; docker buildx build "${flags[@]}" .) 2>&1 | tee "$log" |
  { grep --line-buffered -E '^#[0-9]+ \[[a-z0-9 /-]+\] ' || true; } | cut -c1-120 | sed -u 's/^/    /' >&2; then
  tail -n 30 "$log" >&2
  die "build of $name failed; full log: $log"
fi
info "built $name:$sha and $name:latest in $((SECONDS - start)) s"
