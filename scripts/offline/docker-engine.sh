#!/usr/bin/env bash
# Make a Docker engine with buildx and compose available: idempotent, fast when already there.
# For machines without one (offline CI): installs Debian's docker.io, takes the buildx and compose
# CLI plugins from Debian trixie's packages without changing apt's configuration, starts dockerd.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$REPO_ROOT/scripts/offline/lib.sh"

install_engine() {
  command -v dockerd >/dev/null 2>&1 && return 0
  info "installing docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
}

install_plugins() {
  if docker buildx version >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then return 0; fi
  local dir="$CACHE_DIR/trixie-apt"
  mkdir -p "$DOCKER_PLUGINS_DIR" "$dir/sources"
  debian_sources trixie >"$dir/sources/trixie.sources"
  info "fetching docker-buildx and docker-compose from trixie"
  apt_download "$dir" docker-buildx docker-compose
  local deb
  for deb in "$dir"/docker-buildx_*.deb "$dir"/docker-compose_*.deb; do
    dpkg-deb -x "$deb" "$dir/root"
  done
  cp -p "$dir"/root/usr/libexec/docker/cli-plugins/docker-{buildx,compose} "$DOCKER_PLUGINS_DIR/"
}

start_daemon() {
  docker_ready && return 0
  info "starting dockerd with its default networking (bridge, published ports)"
  mkdir -p "$CACHE_DIR"
  nohup dockerd >"$CACHE_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker_ready && return 0
    sleep 1
  done
  die "dockerd did not answer within 60 s; see $CACHE_DIR/dockerd.log"
}

if docker_ready && docker buildx version >/dev/null 2>&1; then exit 0; fi
install_engine
install_plugins
start_daemon
info "docker engine ready: $(docker version --format '{{.Server.Version}}')"
