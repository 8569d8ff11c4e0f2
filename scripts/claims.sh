#!/usr/bin/env bash
# List the sent log's unresolved claims (unknown, stale, live, expired, failed) as JSON lines:
# STORE=dynamodb (the Lambda's table, default) or STORE=nats (the worker's KV bucket). Settings come from
# the environment.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_one_of STORE dynamodb nats
"$REPO_ROOT/scripts/venv.sh"
PYTHONPATH="$REPO_ROOT/src" "$(venv_bin python)" -m naver_sms.entrypoints.claims --store "$STORE"
