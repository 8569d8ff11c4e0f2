"""Booking events as the worker receives them from JetStream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from naver_sms.domain.booking import Booking, booking_from_mapping, booking_to_mapping
from naver_sms.domain.errors import DomainError, InvalidEvent
from naver_sms.domain.frozen import quick_init
from naver_sms.domain.text import shown
from naver_sms.domain.values import ID_RULE, aware_instant, valid_id


class EventType(StrEnum):
    CREATED = "booking.created"
    UPDATED = "booking.updated"
    CANCELLED = "booking.cancelled"
    COMPLETED = "booking.completed"


_TYPES = {kind.value: kind for kind in EventType}  # a dict hit, not an Enum call, per event


@quick_init
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
    if valid_id(event_id) is None:
        raise InvalidEvent(f"event.event_id: {ID_RULE}, got {shown(event_id)}")
    event_type = _TYPES.get(str(data.get("type")))
    if event_type is None:
        allowed = ", ".join(t.value for t in EventType)
        raise InvalidEvent(f"event.type: expected one of {allowed}, got {shown(data.get('type'))}")
    try:
        occurred_at = aware_instant(data.get("occurred_at"))
    except ValueError as err:
        raise InvalidEvent(f"event.occurred_at: {err}") from None
    try:
        booking = booking_from_mapping(data.get("booking"))
    except DomainError as err:
        raise InvalidEvent(str(err)) from err
    return BookingEvent(str(event_id), event_type, occurred_at, booking)


def event_to_mapping(event: BookingEvent) -> dict[str, object]:
    """The JSON object event_from_mapping reads back as the same event (what a publisher sends)."""
    return {
        "event_id": event.event_id,
        "type": event.type.value,
        "occurred_at": event.occurred_at.isoformat(),
        "booking": booking_to_mapping(event.booking),
    }
