"""One contract for the change feed's store (adapters/seen_bookings.py) over the fake's MemoryRecords and
DynamoDB (moto's server, the sent log's table): both pass the same tests, the feed's records never
show up as claims, and a run's bookings are read in one batch read of the store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Coroutine
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from naver_sms.adapters.dynamo_sent_log import DynamoOpenClaims, DynamoRecords
from naver_sms.adapters.record_store import Held
from naver_sms.adapters.seen_bookings import StoreSeenBookings, seen_key
from naver_sms.adapters.sent_log import RecordStore, ScanOpenClaims, StoreSentLog
from naver_sms.application.ports import NEVER_SEEN
from naver_sms.domain.booking import BookingStatus
from naver_sms.domain.feed import Seen
from naver_sms.domain.messages import PlannedMessage
from tests.support.fakes import MemoryRecords
from tests.support.moto import SENT_LOG_TABLE, create_sent_log_table

START = datetime(2026, 11, 27, 10, 0, tzinfo=timezone(timedelta(hours=9)))
SEEN = Seen(BookingStatus.CONFIRMED, START, "커트")
MOVED = Seen(BookingStatus.CONFIRMED, START + timedelta(hours=1), "커트")
ANY = {"bk-1": ""}  # a state no Seen has: the record, whatever it holds
MESSAGE = PlannedMessage("confirmation", "bk-1", "01012345678", "김님, 예약 확정", "k" * 40)


@pytest.fixture(params=["fake", "dynamodb"])
def records(request: pytest.FixtureRequest) -> Callable[[], RecordStore]:
    """Each call a client of one backing store, as each run has its own."""
    if request.param == "fake":
        memory = MemoryRecords()
        return lambda: memory
    request.getfixturevalue("aws")
    create_sent_log_table()
    return lambda: DynamoRecords(SENT_LOG_TABLE, boto3.client("dynamodb"))


def run(scenario: Callable[..., Coroutine[Any, Any, None]], records: Callable[[], RecordStore]) -> None:
    asyncio.run(scenario(records))


async def _baseline(records: Callable[[], RecordStore]) -> None:
    store = StoreSeenBookings(records())
    assert await store.started() is False
    await store.baseline_taken()
    assert await StoreSeenBookings(records()).started() is True


async def _record_and_read(records: Callable[[], RecordStore]) -> None:
    """Only what differs from the state a run gives is read out: a booking never seen as NEVER_SEEN, one
    held in another state as its record, one held in the same state not at all."""
    store = StoreSeenBookings(records())
    assert await store.read({"bk-1": SEEN.state, "bk-2": ""}) == {"bk-1": NEVER_SEEN, "bk-2": NEVER_SEEN}
    assert await store.record("bk-1", SEEN, None) is True
    assert await StoreSeenBookings(records()).read({"bk-1": SEEN.state, "bk-2": SEEN.state}) == {
        "bk-2": NEVER_SEEN
    }
    found = await StoreSeenBookings(records()).read({"bk-1": MOVED.state})
    held = found["bk-1"].seen
    assert held is not None and held.same_as(SEEN) and held.start.utcoffset() == timedelta(hours=9)
    assert await store.record("bk-1", MOVED, found["bk-1"].revision) is True
    again = (await store.read({"bk-1": SEEN.state}))["bk-1"]
    assert again.seen is not None and again.seen.same_as(MOVED) and again.revision != found["bk-1"].revision
    assert await store.read({"bk-1": MOVED.state}) == {}


async def _racing_runs(records: Callable[[], RecordStore]) -> None:
    """Two runs read one revision; only the first to write records what it saw, the other's is refused
    and the winner's state stands. Two runs that both find no record: one creates it."""
    first, second = StoreSeenBookings(records()), StoreSeenBookings(records())
    assert await first.record("bk-1", SEEN, None) is True
    assert await second.record("bk-1", MOVED, None) is False
    read = (await first.read(ANY))["bk-1"].revision
    assert await second.record("bk-1", MOVED, read) is True
    assert await first.record("bk-1", SEEN, read) is False
    held = (await first.read(ANY))["bk-1"].seen
    assert held is not None and held.same_as(MOVED)


async def _unreadable_record(records: Callable[[], RecordStore]) -> None:
    """A record this codec never wrote reads as never seen, with its revision, so it can be replaced."""
    store = records()
    await store.put(seen_key("bk-1"), {"kind": "seen", "status": "lost", "start": "soon", "service": "x"})
    await store.put(seen_key("bk-2"), {"kind": "seen", "state": "lost\x1fsoon\x1fx"})
    await store.put(seen_key("bk-3"), {"kind": "seen", "state": 7.5})
    found = await StoreSeenBookings(records()).read(dict.fromkeys(("bk-1", "bk-2", "bk-3"), SEEN.state))
    assert all(found[b].seen is None and found[b].revision for b in ("bk-1", "bk-2", "bk-3"))
    assert await StoreSeenBookings(records()).record("bk-1", SEEN, found["bk-1"].revision) is True


class Counted:
    """The store, counting the reads made of it: each key alone (`read`) and in batches (their sizes)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.reads = 0
        self.batches: list[int] = []

    async def read(self, key: str) -> Held | None:
        self.reads += 1
        return await self.store.read(key)

    async def read_many(self, keys: Collection[str]) -> dict[str, Held]:
        self.batches.append(len(keys))
        return await self.store.read_many(keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


async def _many_bookings(records: Callable[[], RecordStore]) -> None:
    """A run's bookings, more than one DynamoDB request takes, are read in one batch read, and what
    differs is given in the order asked: the never seen, the moved with what was seen, and one
    unreadable record as never seen but with its revision."""
    store = StoreSeenBookings(records())
    ids = [f"bk-{n:03d}" for n in range(150)]
    for booking_id in ids[:120]:
        assert await store.record(booking_id, SEEN, None)
    await records().put(seen_key("bk-007"), {"kind": "seen", "status": "lost"})
    moved = ids[10:15]
    now = {booking_id: MOVED.state if booking_id in moved else SEEN.state for booking_id in reversed(ids)}
    counted = Counted(records())
    found = await StoreSeenBookings(counted).read(now)  # type: ignore[arg-type]
    assert (counted.reads, counted.batches) == (0, [150])
    assert list(found) == [*reversed(ids[120:]), *reversed(moved), "bk-007"]
    assert all(found[b] == NEVER_SEEN for b in ids[120:])
    assert all(found[b].revision and found[b].seen == SEEN for b in moved)
    assert found["bk-007"].seen is None and found["bk-007"].revision
    assert await StoreSeenBookings(counted).read({}) == {}


async def _listing(records: Callable[[], RecordStore]) -> None:
    """Any booking id is a key of its own; the sent log's listings never show the feed's records."""
    store = StoreSeenBookings(records())
    await store.baseline_taken()
    for booking_id in ("bk-1", "bk-2#odd id"):
        await store.record(booking_id, SEEN, None)
    found = await store.read({"bk-1": "", "bk-2#odd id": "", "bk-2": ""})
    assert [(b, s.seen) for b, s in found.items()] == [("bk-1", SEEN), ("bk-2#odd id", SEEN), ("bk-2", None)]
    sent_log = StoreSentLog(records(), "lambda:test")
    await sent_log.claim(MESSAGE, datetime.now(UTC).timestamp())
    assert [row["idempotency_key"] async for row in sent_log.unresolved()] == [MESSAGE.idempotency_key]
    claims = records()
    lists = [ScanOpenClaims(claims)]
    if isinstance(claims, DynamoRecords):
        lists.append(DynamoOpenClaims(claims))  # type: ignore[arg-type]
    for open_claims in lists:
        assert [m.idempotency_key for m, _ in await open_claims.open_claims()] == [MESSAGE.idempotency_key]


@pytest.mark.parametrize(
    "scenario", [_baseline, _record_and_read, _racing_runs, _unreadable_record, _many_bookings, _listing]
)
def test_seen_bookings_contract(
    scenario: Callable[..., Coroutine[Any, Any, None]], records: Callable[[], RecordStore]
) -> None:
    run(scenario, records)
