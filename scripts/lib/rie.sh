# shellcheck shell=bash
# The real Lambda Runtime Interface Emulator, for `make run-local` and the stand-in Lambda base.
# Sourced through scripts/lib.sh; do not run it.

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

# require_free_port PORT WHAT: stop at once, naming WHAT (the knob that chose PORT, or why the port is
# needed), when PORT is not a port number or something on this machine already holds it on loopback;
# otherwise the emulator would panic "address already in use" after the slow steps before it.
require_free_port() {
  [[ "$1" =~ ^[0-9]+$ && "$1" -ge 1 && "$1" -le 65535 ]] ||
    die "$2 is not valid: expected a port number 1-65535"
  _bind_loopback "$1" >/dev/null 2>&1 ||
    die "127.0.0.1:$1 is already in use ($2): stop what holds it or choose another port"
}

# free_port: a port nothing holds on loopback now, chosen by the kernel. Whoever asked binds it a moment
# later; another process could take it meanwhile, a window of milliseconds.
free_port() { _bind_loopback 0; }

# _bind_loopback PORT: bind 127.0.0.1:PORT (0: any) and print the port bound; fail when it is taken.
# SO_REUSEADDR as Go's listen (the emulator's) sets it: a connection in TIME_WAIT does not count as taken.
_bind_loopback() {
  python3 -c '
import socket, sys
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    print(sock.getsockname()[1])
' "$1"
}
