#!/usr/bin/env bash
# Rewrite Python sources in the project's style (ruff: Black-compatible formatting and import order).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/venv.sh"
ruff check --fix --select I src tests scripts bench
ruff format src tests scripts bench
