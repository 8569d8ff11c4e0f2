#!/usr/bin/env bash
# Create .venv from the dev lock, or re-sync it when a lock changed since the last sync.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stamp="$VENV/.synced"
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$stamp" -nt requirements-dev.txt ]]; then
  exit 0
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  info "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
info "syncing $VENV with requirements-dev.txt"
"$VENV/bin/python" -m pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
"$VENV/bin/pip-sync" --quiet requirements-dev.txt
touch "$stamp"
