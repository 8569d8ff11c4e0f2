#!/usr/bin/env bash
# Measure the figures users feel and rewrite docs/benchmarks.md and docs/benchmarks.json.
# BENCH_ARGS passes options (--skip-images when no Docker engine, --skip-test-suite).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/venv.sh"
read -r -a extra <<<"${BENCH_ARGS:-}"
PYTHONPATH="$REPO_ROOT/src:$REPO_ROOT" "$(venv_bin python)" -m bench.run "${extra[@]}"
