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
