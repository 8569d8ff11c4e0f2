#!/usr/bin/env bash
# Reconcile the sent log's unknowns and sends with SENS's own record, one pass now: STORE=dynamodb (the
# Lambda's table, default) or STORE=nats (the worker's KV bucket). Settings come from the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_one_of STORE dynamodb nats
"$REPO_ROOT/scripts/venv.sh"
PYTHONPATH="$REPO_ROOT/src" "$(venv_bin python)" -m naver_sms.entrypoints.reconcile --store "$STORE"
