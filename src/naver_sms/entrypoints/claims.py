"""`make claims`: list every claim the sent log holds that is not a confirmed send, for an operator.

A claim is `unknown` (the SMS may have gone out: check with SENS before resending by hand), `stale`
(claimed longer ago than the lease and not yet reported: its sender died mid-send, and the next run or
redelivery will report it as unknown) or `live` (a send in progress). One JSON line per claim on
stdout, a count on stderr; the records hold no phone number and no message text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable
from typing import Any

from naver_sms.domain.phone import mask_phones_within
from naver_sms.settings import Settings, SettingsError

STORES = ("dynamodb", "nats")
CONNECT_DEADLINE_SECONDS = 10.0


def classify(record: dict[str, Any], lease_seconds: float, now: float) -> dict[str, Any]:
    age = now - float(record.get("at", 0) or 0)
    status = record.get("state", "unknown")
    if status == "claimed":
        status = "stale" if age >= lease_seconds else "live"
    return {**record, "status": status, "age_seconds": round(age)}


def _from_dynamodb(settings: Settings) -> list[dict[str, Any]]:
    from naver_sms.adapters.dynamo_sent_log import DynamoSentLog  # noqa: PLC0415

    return list(DynamoSentLog(settings.sent_log.table).unresolved())


async def _from_nats(settings: Settings) -> list[dict[str, Any]]:
    import nats  # noqa: PLC0415

    from naver_sms.adapters.nats_sent_log import NatsKvSentLog  # noqa: PLC0415
    from naver_sms.bootstrap.worker_image import nats_connection  # noqa: PLC0415

    async def quiet(err: Exception) -> None:
        pass  # the one failure that matters is reported by main(), once

    w = settings.worker
    # Connected as the worker connects (its servers and credentials); nats-py keeps retrying a refused
    # first connection on its own, so the deadline is ours.
    nc = await asyncio.wait_for(
        nats.connect(
            name="make-claims",
            connect_timeout=5,
            allow_reconnect=False,
            error_cb=quiet,
            **nats_connection(settings),
        ),
        CONNECT_DEADLINE_SECONDS,
    )
    try:
        store = NatsKvSentLog(await nc.jetstream().key_value(w.dedupe_bucket), owner="operator")
        return [record async for record in store.unresolved()]
    finally:
        await nc.close()


def report(records: Iterable[dict[str, Any]], lease_seconds: float, now: float) -> dict[str, int]:
    counts = {"unknown": 0, "stale": 0, "live": 0}
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
    try:
        settings = Settings.load()
        records = _from_dynamodb(settings) if args.store == "dynamodb" else asyncio.run(_from_nats(settings))
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001  (an operator command: say what failed, no traceback)
        problem = f"{type(err).__name__}: {err}".rstrip(": ")
        print(f"error: cannot read the {args.store} sent log: {problem}", file=sys.stderr)
        return 1
    counts = report(records, settings.sent_log.claim_lease_seconds, time.time())
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    print(
        f"{sum(counts.values())} unresolved claim(s) in the {args.store} sent log: {summary}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
