# shellcheck shell=bash
# The offline machinery's helpers (scripts/offline/, and build.sh's fallback when a base cannot be pulled):
# Debian packages from this machine's apt mirror, the stand-ins, the local Chrome for Testing mirror.
# shellcheck disable=SC2034  # the variables set here are read by the scripts that source this file
# Sourced after scripts/lib.sh; do not run it.

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

# use_standins IMAGE: the offline fallback, announced.
use_standins() {
  warn "cannot pull $1: building on the local stand-in instead (offline machines only; never for production)"
  "$REPO_ROOT/scripts/offline/standins.sh"
  docker image inspect "$1" >/dev/null 2>&1 ||
    die "there is no local stand-in for $1 (only for $LAMBDA_BASE_IMAGE and $WORKER_BASE_IMAGE)"
}

# bridge_address: this host's IPv4 address on Docker's default bridge, where containers and build steps
# on the default network reach it. Read from the bridge's interface, never from IPAM's Gateway: a dockerd
# started for the first time reports the bridge's Subnet only, and a Gateway only after a restart.
bridge_address() {
  local ifname address
  ifname="$(docker network inspect bridge | python3 -c '
import json, sys
print(json.load(sys.stdin)[0].get("Options", {}).get("com.docker.network.bridge.name", "docker0"))
')" || die "cannot read Docker's default bridge network (docker network inspect bridge)"
  require_cmd ip "the local Chrome for Testing mirror listens on Docker's bridge ($ifname)"
  address="$(ip -4 -o addr show dev "$ifname" 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}' || true)"
  [[ "$address" =~ ^[0-9]+(\.[0-9]+){3}$ ]] ||
    die "Docker's bridge interface $ifname has no IPv4 address (ip -4 addr show dev $ifname); is dockerd running?"
  printf '%s' "$address"
}

# serve_cft_mirror: serve the local Chrome for Testing mirror where build steps reach this host, for
# as long as this script runs; point CFT_BASE_URL at it and CFT_PIN at its pin for the browser the
# committed pin names (the mirror packs both). A fixed port keeps the URL, and with it the build cache,
# the same from one build to the next.
serve_cft_mirror() {
  local dir host port="$CFT_MIRROR_PORT" nonce
  [[ "$port" =~ ^[0-9]+$ ]] || die "CFT_MIRROR_PORT='$port' is not a port number"
  read_cft_pin
  dir="$("$REPO_ROOT/scripts/offline/cft-mirror.sh" "$CFT_MIRROR_DIR")"
  if [[ "$DOCKER_NETWORK" == host ]]; then host=127.0.0.1; else host="$(bridge_address)"; fi
  # Served from a folder of this run's own (links to the mirror, and a nonce): another build's server on
  # the port serves the same mirror's bytes, but never this nonce, so a server of ours that failed to bind
  # is noticed instead of borrowing one that goes away when its build ends.
  mirror_root="$(mktemp -d)"
  ln -s "$dir"/* "$mirror_root/"
  nonce="$$-$RANDOM$RANDOM"
  printf '%s' "$nonce" >"$mirror_root/served-by"
  mkdir -p build
  python3 -m http.server --bind "$host" --directory "$mirror_root" "$port" >build/cft-mirror.log 2>&1 &
  mirror_pid=$!
  trap 'kill "$mirror_pid" 2>/dev/null || true; rm -rf "$mirror_root"' EXIT
  CFT_BASE_URL="http://$host:$port" CFT_PIN="$dir/$CFT_BROWSER.pin"
  for _ in $(seq 1 50); do
    [[ "$(curl -fsS "$CFT_BASE_URL/served-by" 2>/dev/null)" == "$nonce" ]] && return 0
    kill -0 "$mirror_pid" 2>/dev/null || break
    sleep 0.1
  done
  die "the local Chrome for Testing mirror did not start on $host:$port (in use? set CFT_MIRROR_PORT); see build/cft-mirror.log"
}
