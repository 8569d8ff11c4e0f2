"""The change feed's edges where the store compares (SeenBookings.read gives back only what differs): the
baseline decision and the reading of odd records, through application.change_feed.changes over the tests'
MemoryRecords."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from naver_sms.adapters.seen_bookings import BASELINE_KEY, KIND, StoreSeenBookings, seen_key
from naver_sms.application import change_feed
from naver_sms.application.ports import NEVER_SEEN, Sighting
from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.events import EventType
from naver_sms.domain.feed import Seen, state_of
from tests.support.fakes import FakeSeenBookings, MemoryRecords

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=3)


def booking(
    n: int | str, status: BookingStatus = BookingStatus.CONFIRMED, start: datetime = START
) -> Booking:
    booking_id = n if isinstance(n, str) else f"bk-{n}"
    return Booking(booking_id, "손님", "01055550001", "커트", start, status, start.isoformat())


def changes(store: StoreSeenBookings, *bookings: Booking) -> change_feed.Changes:
    return asyncio.run(change_feed.changes(store, list(bookings), NOW))


def recorded(store: FakeSeenBookings, *bookings: Booking) -> None:
    for b in bookings:
        assert asyncio.run(store.record(b.booking_id, Seen.of(b), None))


def test_a_first_run_on_an_empty_store_takes_a_baseline_and_derives_nothing() -> None:
    store = FakeSeenBookings()
    found = changes(store, booking(1), booking(2, BookingStatus.CANCELLED))
    assert found.baseline and found.events == () and found.mark_baseline
    assert set(found.to_record) == {"bk-1", "bk-2"}
    assert all(revision is None for _, revision in found.to_record.values())


def test_a_first_run_with_no_bookings_still_marks_the_baseline() -> None:
    store = FakeSeenBookings()
    found = changes(store)
    assert found.baseline and found.events == () and found.mark_baseline
    asyncio.run(change_feed.record(store, found, ()))
    assert store.baseline()


def test_a_missing_mark_with_every_booking_held_unchanged_still_derives_a_new_ones_event() -> None:
    store = FakeSeenBookings()
    recorded(store, booking(1))
    found = changes(store, booking(1), booking(2))
    assert not found.baseline and found.mark_baseline
    assert [e.type for e in found.events] == [EventType.CREATED]


def test_a_missing_mark_with_one_held_cancelled_booking_derives_its_cancellation() -> None:
    store = FakeSeenBookings()
    recorded(store, booking(1))
    found = changes(store, booking(1, BookingStatus.CANCELLED))
    assert [e.type for e in found.events] == [EventType.CANCELLED]


def test_a_repeated_id_counts_as_its_last_and_is_read_once() -> None:
    store = FakeSeenBookings()
    asyncio.run(store.baseline_taken())
    recorded(store, booking(1))
    found = changes(store, booking(1, BookingStatus.CANCELLED), booking(1))
    assert found.events == () and found.to_record == {}


def test_a_booking_id_shaped_like_the_baseline_key_is_a_booking_of_its_own() -> None:
    store = FakeSeenBookings()
    for hostile in ("baseline", "booking#baseline", "../baseline", "feed#baseline", ""):
        assert seen_key(hostile) != BASELINE_KEY
    found = changes(store, booking("baseline"))
    assert found.baseline  # still a first run: no booking id reads as the mark


def test_a_legacy_record_without_revision_is_held_and_replaced_against_no_revision() -> None:
    """A DynamoDB item written before revisions reads with revision "": it counts as held (the feed has a
    past) and is not taken for never seen."""

    class Legacy(MemoryRecords):
        async def read_many(self, keys):  # type: ignore[no-untyped-def, override]
            return {k: (f, "") for k, (f, _) in (await super().read_many(keys)).items()}

    records = Legacy()
    store = FakeSeenBookings(records)  # type: ignore[arg-type]
    recorded(store, booking(1))
    found = changes(store, booking(1, BookingStatus.CANCELLED))
    assert not found.baseline and [e.type for e in found.events] == [EventType.CANCELLED]
    assert found.to_record["bk-1"][1] == ""


def test_a_foreign_record_holding_the_same_state_string_is_rewritten_as_an_unreadable_one_was() -> None:
    """A record whose `kind` is not this codec's is unreadable whatever its state string holds: its booking
    is recorded anew."""
    store = FakeSeenBookings()
    asyncio.run(store.baseline_taken())
    b = booking(1)
    asyncio.run(store.records.put(seen_key(b.booking_id), {"kind": "not-seen", "state": state_of(b)}))
    found = changes(store, b)
    assert "bk-1" in found.to_record, "a record this codec did not write is recorded anew"


def test_a_store_answering_for_a_booking_not_asked_does_not_crash_the_feed() -> None:
    """An answer keyed by an id the run did not ask about (a store normalising ids, a future batch reader)
    is left out: the run's own bookings' events are derived as ever."""

    class Extra(FakeSeenBookings):
        async def read(self, unlike: Mapping[str, str]) -> dict[str, Sighting]:
            return {**await super().read(unlike), "bk-other": NEVER_SEEN}

    store = Extra()
    asyncio.run(store.baseline_taken())
    found = changes(store, booking(1))
    assert [e.type for e in found.events] == [EventType.CREATED]


def test_the_empty_state_reads_a_record_whatever_it_holds_as_the_port_says() -> None:
    """ports.SeenBookings.read: a state no Seen has ("") reads the booking's record whatever it holds; a
    record whose state is "" is no state at all: unreadable, with its revision."""
    store = FakeSeenBookings()
    asyncio.run(store.records.put(seen_key("bk-1"), {"kind": KIND, "state": ""}))
    assert asyncio.run(store.read({"bk-1": ""})) == {"bk-1": Sighting(None, "1")}
