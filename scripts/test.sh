#!/usr/bin/env bash
# Run the test suite in the locked venv: every layer (make test), or the paths given (make test-unit runs
# tests/unit: no network, browser, Docker or system packages). Extra pytest arguments pass through (ARGS=…).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Only the whole suite needs the system packages (Chromium, docker-registry, debootstrap).
(($#)) || "$REPO_ROOT/scripts/bootstrap.sh" test
"$REPO_ROOT/scripts/venv.sh"
# -rfEs ends with each failure, error and skip (and why it skipped); under CI=true tests/conftest.py turns
# any skip into a failure.
read -r -a extra <<<"${ARGS:-}"
(set -x; "$(venv_bin python)" -m pytest -rfEs "$@" "${extra[@]}")
