"""`make reconcile`: one reconciler pass (issue #36) over a sent log, now, for an operator.

Each unknown whose window has settled is looked up in SENS's list: found → `sent`; never accepted →
released for the next run to send once while its rule's window is open, else `expired`; anything it
cannot tell stays `unknown` with why (`make claims` shows it). Each send awaiting its handset result gets
it: `delivered`, or `failed` with SENS's code. The store is the Lambda's table (STORE=dynamodb) or the
worker's KV bucket (STORE=nats); SENS's keys are the send's. One JSON line per record the pass settled or
left on stdout (no phone number but masked, no text), a summary on stderr; exit 0, 1 when the pass could
not run (the listing failed) or some records failed, 2 for settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from naver_sms.application.reconcile import Reconciler
from naver_sms.application.reconcile_result import ReconcileResult
from naver_sms.bootstrap.shared import operators_reconciler
from naver_sms.domain.phone import mask_phones_within
from naver_sms.entrypoints.claims import STORES
from naver_sms.entrypoints.operator import operate
from naver_sms.settings import Settings

# Each list of the result, as the `outcome` its lines carry.
OUTCOMES = ("resolved_sent", "released", "expired", "still_unknown", "handset_given_up", "errors")


async def reconcile(settings: Settings, store: str) -> ReconcileResult:
    # Each image's root builds its own store, imported only for the store asked for (the worker's image
    # has no boto3, the Lambda's no nats-py), as `make claims` does.
    if store == "dynamodb":
        from naver_sms.bootstrap.lambda_image import open_claims_of, operators_sent_log  # noqa: PLC0415

        return await one_pass(
            operators_reconciler(settings, operators_sent_log(settings), open_claims_of(settings))
        )
    from naver_sms.bootstrap.worker_image import operators_sent_log as kv_sent_log  # noqa: PLC0415

    async with kv_sent_log(settings) as sent_log:
        return await one_pass(operators_reconciler(settings, sent_log))


async def one_pass(reconciler: Reconciler) -> ReconcileResult:
    try:
        return await reconciler.run()
    finally:
        await reconciler.messages.close()


def lines(result: ReconcileResult) -> list[dict[str, Any]]:
    out = [{"outcome": outcome, **asdict(s)} for outcome in OUTCOMES for s in getattr(result, outcome)]
    return out + [{"outcome": "handset_failed", **f.as_record()} for f in result.handset_failed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make reconcile", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", choices=STORES, default="dynamodb", help="the Lambda's table or the worker's KV"
    )
    args = parser.parse_args(argv)
    done = operate(
        f"reconcile the {args.store} sent log with SENS", lambda settings: reconcile(settings, args.store)
    )
    if isinstance(done, int):
        return done
    _, result = done
    for line in lines(result):
        # A reason may quote SENS's answer, and with it a phone number.
        print(json.dumps(mask_phones_within(line), ensure_ascii=False), flush=True)
    counts = result.counts()
    summary = ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "nothing to do"
    print(f"reconciled the {args.store} sent log with SENS: {summary}", file=sys.stderr)
    if result.errors:
        print(
            f"error: {len(result.errors)} record(s) could not be reconciled: see their lines", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
