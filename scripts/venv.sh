#!/usr/bin/env bash
# Create .venv from the dev lock and install naver_sms into it (editable), or re-sync it when the lock
# or pyproject.toml changed since the last sync.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stamp="$VENV/.synced"
if [[ -x "$VENV/bin/python" && -f "$stamp" && "$stamp" -nt requirements-dev.txt && "$stamp" -nt pyproject.toml ]]; then
  exit 0
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  info "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
info "syncing $VENV with requirements-dev.txt"
"$VENV/bin/python" -m pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
"$VENV/bin/pip-sync" --quiet requirements-dev.txt
# pip-sync removes what the lock does not name, this package included. The lock's setuptools builds it:
# no download, no other version.
"$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation --editable .
touch "$stamp"
