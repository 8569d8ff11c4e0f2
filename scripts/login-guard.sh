#!/usr/bin/env bash
# Show the Naver login guard (failed logins in a row, backoff, logins this hour) as JSON, or ACTION=clear
# it once a person has fixed what made logins fail. The Lambda's settings come from the environment: the
# sent-log table (SENT_LOG_TABLE) and the account (NAVER_USERNAME) whose guard it is.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_one_of ACTION show clear
"$REPO_ROOT/scripts/venv.sh"
PYTHONPATH="$REPO_ROOT/src" "$(venv_bin python)" -m naver_sms.entrypoints.login_guard "$ACTION"
