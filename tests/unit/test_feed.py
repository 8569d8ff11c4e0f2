"""The change feed's domain (domain/feed.py): which event a booking makes against what was seen of it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.events import EventType, event_to_mapping
from naver_sms.domain.feed import Seen, change, derive, event_id
from naver_sms.domain.rules import rules_from_mapping
from naver_sms.entrypoints.worker.decode import decode_event

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
BOOKING = Booking("bk-1", "손님", "01055550001", "커트", NOW + timedelta(days=3), BookingStatus.CONFIRMED)
SEEN = Seen.of(BOOKING)


def test_a_booking_never_seen_is_created_unless_it_started_already() -> None:
    assert change(None, BOOKING, NOW) is EventType.CREATED
    assert change(None, replace(BOOKING, start=NOW), NOW) is None
    assert change(None, replace(BOOKING, start=NOW - timedelta(days=1)), NOW) is None


@pytest.mark.parametrize(
    ("now_status", "expected"),
    [
        (BookingStatus.CANCELLED, EventType.CANCELLED),
        (BookingStatus.COMPLETED, EventType.COMPLETED),
        (BookingStatus.PENDING, EventType.UPDATED),
    ],
)
def test_a_status_change_is_its_own_event_or_an_update(
    now_status: BookingStatus, expected: EventType
) -> None:
    assert change(SEEN, replace(BOOKING, status=now_status), NOW) is expected


def test_a_pending_booking_confirmed_is_an_update() -> None:
    before = replace(SEEN, status=BookingStatus.PENDING)
    assert change(before, BOOKING, NOW) is EventType.UPDATED


def test_a_moved_start_or_a_changed_service_is_an_update_and_nothing_else_is_news() -> None:
    assert change(SEEN, replace(BOOKING, start=BOOKING.start + timedelta(hours=1)), NOW) is EventType.UPDATED
    assert change(SEEN, replace(BOOKING, service="펌"), NOW) is EventType.UPDATED
    assert change(SEEN, replace(BOOKING, customer_name="다른 이름", phone="01055550002"), NOW) is None
    kst = BOOKING.start.astimezone(timezone(timedelta(hours=9)))  # the same instant, another offset
    assert change(SEEN, replace(BOOKING, start=kst), NOW) is None


def test_a_cancellation_that_also_moves_the_start_is_a_cancellation() -> None:
    moved = replace(BOOKING, status=BookingStatus.CANCELLED, start=BOOKING.start + timedelta(days=1))
    assert change(SEEN, moved, NOW) is EventType.CANCELLED


def test_the_same_change_has_the_same_event_id_however_often_it_is_derived() -> None:
    first = derive(None, BOOKING, NOW)
    again = derive(None, BOOKING, NOW + timedelta(minutes=10))
    assert first is not None and again is not None
    assert first.event_id == again.event_id and first.type is EventType.CREATED
    moved = replace(BOOKING, start=BOOKING.start + timedelta(hours=1))
    ids = {
        event_id(BOOKING, EventType.CREATED),
        event_id(BOOKING, EventType.UPDATED),
        event_id(moved, EventType.UPDATED),
        event_id(replace(BOOKING, booking_id="bk-2"), EventType.CREATED),
    }
    assert len(ids) == 4
    assert event_id(BOOKING, EventType.UPDATED) == event_id(
        replace(BOOKING, start=BOOKING.start.astimezone(timezone(timedelta(hours=9)))), EventType.UPDATED
    )


def test_no_change_derives_no_event() -> None:
    assert derive(SEEN, BOOKING, NOW) is None


def test_the_worker_and_the_rules_take_a_completed_event_as_they_take_the_others() -> None:
    event = derive(SEEN, replace(BOOKING, status=BookingStatus.COMPLETED), NOW)
    assert event is not None
    payload = event_to_mapping(event)
    assert payload["booking"]["status"] == "completed"  # type: ignore[index]
    assert decode_event(json.dumps(payload).encode(), 65_536) == event
    rule = {
        "name": "after",
        "key": "events/after",
        "status": "completed",
        "sent_by": "events",
        "events": ["booking.completed"],
        "send_window": {"until": "1d after start"},
        "template": "{customer_name}님 감사",
    }
    rules = rules_from_mapping({"rules": [rule]})
    assert [r.name for r in rules.applicable(event.booking, NOW, event.type)] == ["after"]


@pytest.mark.parametrize(
    "booking",
    [
        BOOKING,
        # The most a booking may carry, and what the API's text cleaning keeps: emoji, another script,
        # a start in another offset, the longest name and service.
        replace(BOOKING, customer_name="가" * 40, service="💇" * 60),
        replace(BOOKING, start=BOOKING.start.astimezone(timezone(timedelta(hours=-12)))),
        replace(BOOKING, booking_id="b" * 128, status=BookingStatus.PENDING),
    ],
)
def test_an_event_the_feed_publishes_reads_back_in_the_worker_as_the_same_event(booking: Booking) -> None:
    event = derive(None, booking, NOW)
    assert event is not None
    wire = json.dumps(event_to_mapping(event), ensure_ascii=False).encode()
    assert decode_event(wire, 65_536) == event
