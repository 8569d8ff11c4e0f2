"""`make login-guard`: show the Naver login guard, or clear it once a person has fixed what made logins fail.

`show` prints the guard's state as JSON: failed logins in a row, the backoff's end, the last failure's
reason, the logins of the last hour and when the next login may happen. `clear` empties it (the next
run may log in at once) and prints what it held, even when that cannot be read. It reads the Lambda's
settings: the sent-log table and the Naver account (the record is keyed by a hash of the login page and
the resolved username, so a secret reference and the literal ID find the same record; no username or
password is stored or printed). `"record": "none yet"` says no login has been guarded yet.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from naver_sms.bootstrap.login_guard import login_guard
from naver_sms.domain.phone import mask_phones_within
from naver_sms.entrypoints.operator import operate
from naver_sms.settings import Settings

ACTIONS = ("show", "clear")


async def act(settings: Settings, action: str) -> dict[str, Any]:
    guard = login_guard(settings)
    if action == "clear":
        return {"cleared": await guard.clear()}
    return await guard.show()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make login-guard", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=ACTIONS, nargs="?", default="show")
    args = parser.parse_args(argv)
    done = operate(f"{args.action} the login guard", lambda settings: act(settings, args.action))
    if isinstance(done, int):
        return done
    _, shown = done
    print(json.dumps(mask_phones_within(shown), ensure_ascii=False, indent=2), flush=True)
    if args.action == "clear":
        print("login guard cleared: the next run may log in at once", file=sys.stderr)
    elif shown.get("deferred"):
        print(shown["deferred"], file=sys.stderr)
    elif shown.get("record") == "none yet":
        print("login guard: no record yet (no login guarded): the next run may log in", file=sys.stderr)
    else:
        print("login guard: the next run may log in", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
