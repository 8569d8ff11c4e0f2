from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from naver_sms.domain.booking import BookingStatus, booking_from_mapping
from naver_sms.domain.errors import InvalidBooking, InvalidEvent
from naver_sms.domain.events import EventType, event_from_mapping

GOOD: dict[str, Any] = {
    "id": "b1",
    "customer_name": "Kim",
    "phone": "010-1234-5678",
    "service": "cut",
    "start": "2026-12-01T10:00:00+09:00",
    "status": "confirmed",
}


def test_valid_booking_parses() -> None:
    booking = booking_from_mapping(GOOD)
    assert booking.phone == "01012345678"
    assert booking.status is BookingStatus.CONFIRMED
    assert (booking.booking_id, booking.service, booking.start.utcoffset()) == (
        "b1",
        "cut",
        timedelta(hours=9),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": ""}, "booking.id"),
        ({"phone": "call me"}, "booking.phone"),
        ({"start": "2026-12-01T10:00:00"}, "needs a time zone"),
        ({"start": "tomorrow"}, "not ISO-8601"),
        ({"start": 5}, "booking.start"),
        ({"status": "maybe"}, "booking.status"),
        ({"customer_name": None}, "booking.customer_name"),
    ],
)
def test_bad_booking_names_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidBooking, match=message):
        booking_from_mapping({**GOOD, **change})


def test_event_parses() -> None:
    event = event_from_mapping(
        {
            "event_id": "e1",
            "type": "booking.created",
            "occurred_at": "2026-11-24T09:00:00+09:00",
            "booking": GOOD,
        }
    )
    assert event.type is EventType.CREATED
    assert event.booking.booking_id == "b1"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("text", "expected a JSON object"),
        ({"type": "booking.created"}, "event.event_id"),
        ({"event_id": "e", "type": "booking.moved"}, "event.type"),
        ({"event_id": "e", "type": "booking.created", "occurred_at": "now"}, "event.occurred_at"),
        (
            {
                "event_id": "e",
                "type": "booking.created",
                "occurred_at": "2026-11-24T09:00:00+09:00",
                "booking": {**GOOD, "phone": ""},
            },
            "booking.phone",
        ),
    ],
)
def test_bad_event_names_the_field(event: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        event_from_mapping(event)
