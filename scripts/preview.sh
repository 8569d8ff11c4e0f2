#!/usr/bin/env bash
# What the next scheduled run would send, as a table: from the booking API with the configured login, or
# from BOOKINGS=file.json (a list of booking records or a booking API page; needs no Naver, AWS or SENS
# credentials). Nothing is claimed or sent. Settings come from the environment, as `make claims` reads them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

args=()
if [[ -n "${BOOKINGS:-}" ]]; then
  [[ -f "$BOOKINGS" ]] || die "BOOKINGS=$BOOKINGS: no such file"
  args=(--bookings "$BOOKINGS")
fi
"$REPO_ROOT/scripts/venv.sh"
PYTHONPATH="$REPO_ROOT/src" "$(venv_bin python)" -m naver_sms.entrypoints.preview "${args[@]}"
