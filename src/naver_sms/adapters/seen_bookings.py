"""The change feed's store (application/ports.SeenBookings) over a record store's primitives
(record_store.py), so DynamoDB and the tests' dict share one implementation: one record per booking under
FEED_PREFIX in the sent log's table, beside the login guard's, and one record saying the baseline is
taken. The Lambda's role reads and writes items of that table (GetItem, conditional PutItem, and
BatchGetItem: a run's bookings are read a hundred a request): no new table. Every listing of the sent
log's claims skips FEED_PREFIX.

The record keeps the booking's id as it is (DynamoDB takes any string key; JetStream KV would not, which
is why this store is the Lambda's: the worker derives no events).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from naver_sms.adapters.sent_log import FEED_PREFIX, Changed, Fields, RecordStore
from naver_sms.application.ports import NEVER_SEEN, Sighting
from naver_sms.domain.feed import Seen

log = logging.getLogger(__name__)
BOOKING_PREFIX = FEED_PREFIX + "booking#"
BASELINE_KEY = FEED_PREFIX + "baseline"
KIND = "seen"


def seen_key(booking_id: str) -> str:
    return BOOKING_PREFIX + booking_id


def encode(seen: Seen, at: float) -> Fields:
    # status, start and service are for people reading the table; `state` is what is compared.
    return {
        "kind": KIND,
        "state": seen.state,
        "status": seen.status.value,
        "start": seen.start.isoformat(),
        "service": seen.service,
        "seen_at": at,
    }


class StoreSeenBookings:
    """SeenBookings over one RecordStore."""

    def __init__(self, records: RecordStore, clock: Callable[[], float] = time.time) -> None:
        self._records = records
        self._clock = clock

    async def started(self) -> bool:
        return await self._records.read(BASELINE_KEY) is not None

    async def baseline_taken(self) -> None:
        await self._records.put(BASELINE_KEY, {"kind": "baseline", "at": self._clock()})

    async def read(self, unlike: Mapping[str, str]) -> dict[str, Sighting]:
        """A record this codec did not write reads as never seen, but with its revision (logged, never
        raised: one broken record must not stop every run; the run records its booking anew and derives
        nothing from it)."""
        keys = [BOOKING_PREFIX + booking_id for booking_id in unlike]
        found = await self._records.read_many(keys)  # one call, however many bookings
        differing: dict[str, Sighting] = {}
        unreadable: list[str] = []
        for key, (booking_id, now) in zip(keys, unlike.items(), strict=True):  # every booking, every run
            record = found.get(key)
            if record is None:
                differing[booking_id] = NEVER_SEEN
                continue
            fields, revision = record
            state = fields.get("state")
            kind = fields.get("kind")
            if state == now and kind == KIND and now:  # the same string is the same state: most end here
                continue
            if kind != KIND or not isinstance(state, str) or not state:
                unreadable.append(f"kind {kind!r}, state of type {type(state).__name__}")
                state = None
            differing[booking_id] = Sighting(state, revision)
        if unreadable:
            log.warning(
                "unreadable change-feed records are read as never seen",
                extra={"records": len(unreadable), "error": unreadable[0]},
            )
        return differing

    async def record(self, booking_id: str, seen: Seen, revision: str | None) -> bool:
        key, fields = seen_key(booking_id), encode(seen, self._clock())
        try:
            if revision is None:
                await self._records.create(key, fields)
            else:
                await self._records.replace(key, fields, revision)
        except Changed:
            return False
        return True
