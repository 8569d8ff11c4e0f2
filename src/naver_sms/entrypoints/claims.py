"""`make claims`: list every claim the sent log holds that is not a confirmed send, for an operator.

A claim is `unknown` (the SMS may have gone out: check with SENS before resending by hand), `stale`
(claimed longer ago than the lease and not yet reported: its sender died mid-send, and the next run or
redelivery will report it as unknown), `live` (a send in progress), `expired` (the reconciler found SENS
never accepted it and its rule's window had closed: never sent) or `failed` (sent, and SENS says the
carrier could not deliver it: its `status_code` and `status_name` say why). One JSON line per claim on
stdout, a count on stderr; the records hold no phone number and no message text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from typing import Any

from naver_sms.application.ports import ClaimState, Standing, standing
from naver_sms.domain.phone import mask_phones_within
from naver_sms.entrypoints.operator import operate
from naver_sms.settings import Settings

STORES = ("dynamodb", "nats")


def classify(record: dict[str, Any], lease_seconds: float, now: float) -> dict[str, Any]:
    age = now - float(record.get("at", 0) or 0)
    try:
        state = ClaimState(str(record.get("state")))
    except ValueError:
        state = ClaimState.UNKNOWN  # a record this version cannot read is one to look at by hand
    return {**record, "status": standing(state, age, lease_seconds).value, "age_seconds": round(age)}


async def unresolved(settings: Settings, store: str) -> list[dict[str, Any]]:
    # Each image's root builds its own store, imported only for the store asked for (the worker's
    # image has no boto3, the Lambda's no nats-py).
    if store == "dynamodb":
        from naver_sms.bootstrap.lambda_image import operators_sent_log  # noqa: PLC0415

        return [record async for record in operators_sent_log(settings).unresolved()]
    from naver_sms.bootstrap.worker_image import operators_sent_log as kv_sent_log  # noqa: PLC0415

    async with kv_sent_log(settings) as sent_log:
        return [record async for record in sent_log.unresolved()]


def report(records: Iterable[dict[str, Any]], lease_seconds: float, now: float) -> dict[str, int]:
    counts = {status.value: 0 for status in (Standing.UNKNOWN, Standing.STALE, Standing.LIVE)}
    for record in sorted(records, key=lambda r: float(r.get("at", 0) or 0)):
        line = classify(record, lease_seconds, now)
        counts[line["status"]] = counts.get(line["status"], 0) + 1
        # A stored reason may quote a provider's answer, and with it a phone number.
        print(json.dumps(mask_phones_within(line), ensure_ascii=False), flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make claims", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", choices=STORES, default="dynamodb", help="the Lambda's table or the worker's KV"
    )
    args = parser.parse_args(argv)
    done = operate(f"read the {args.store} sent log", lambda settings: unresolved(settings, args.store))
    if isinstance(done, int):
        return done
    settings, records = done
    counts = report(records, settings.sent_log.claim_lease_seconds, time.time())
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    print(
        f"{sum(counts.values())} unresolved claim(s) in the {args.store} sent log: {summary}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
