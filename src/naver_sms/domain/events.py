"""Booking events as the worker receives them from JetStream."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from naver_sms.domain.booking import Booking, booking_from_mapping
from naver_sms.domain.errors import DomainError, InvalidEvent
from naver_sms.domain.text import shown

# It is logged and copied into every notification record: printable ASCII, bounded.
_EVENT_ID = re.compile(r"[!-~]{1,128}")


class EventType(StrEnum):
    CREATED = "booking.created"
    UPDATED = "booking.updated"
    CANCELLED = "booking.cancelled"
    COMPLETED = "booking.completed"


@dataclass(frozen=True)
class BookingEvent:
    event_id: str
    type: EventType
    occurred_at: datetime
    booking: Booking


def event_from_mapping(data: object) -> BookingEvent:
    """Validate a decoded event; raises InvalidEvent naming the first bad field."""
    if not isinstance(data, Mapping):
        raise InvalidEvent(f"event: expected a JSON object, got {type(data).__name__}")
    event_id = data.get("event_id")
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise InvalidEvent(
            f"event.event_id: expected 1-128 printable ASCII characters, got {shown(event_id)}"
        )
    try:
        event_type = EventType(str(data.get("type")))
    except ValueError as err:
        allowed = ", ".join(t.value for t in EventType)
        raise InvalidEvent(f"event.type: expected one of {allowed}, got {shown(data.get('type'))}") from err
    occurred_raw = data.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(occurred_raw) if isinstance(occurred_raw, str) else None
        if occurred_at is not None and occurred_at.tzinfo is not None:
            occurred_at.astimezone(UTC)
    except (ValueError, OverflowError):
        occurred_at = None
    if occurred_at is None or occurred_at.tzinfo is None:
        raise InvalidEvent(f"event.occurred_at: expected ISO-8601 with offset, got {shown(occurred_raw)}")
    try:
        booking = booking_from_mapping(data.get("booking"))
    except DomainError as err:
        raise InvalidEvent(str(err)) from err
    return BookingEvent(event_id, event_type, occurred_at, booking)
