#!/usr/bin/env bash
# Run the whole test suite in the locked venv. Extra pytest arguments pass through (make test ARGS=…).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/bootstrap.sh" test
"$REPO_ROOT/scripts/venv.sh"
# -rs prints why each skipped test skipped; under CI=true tests/conftest.py turns any skip into a failure.
read -r -a extra <<<"${ARGS:-}"
(set -x; "$(venv_bin python)" -m pytest -rs "${extra[@]}")
