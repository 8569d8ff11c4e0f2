"""The Booking value object and its validation from plain mappings (API JSON, NATS events).

Everything a customer or an upstream system typed is cleaned here, once, before any rule sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from naver_sms.domain.errors import InvalidBooking
from naver_sms.domain.frozen import quick_init
from naver_sms.domain.phone import normalise_phone
from naver_sms.domain.text import clean_already, clean_text, shown
from naver_sms.domain.values import ID_RULE, aware_instant, valid_id

MAX_NAME_CHARS = 40
MAX_SERVICE_CHARS = 60


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


@quick_init
@dataclass(frozen=True)
class Booking:
    booking_id: str
    customer_name: str
    phone: str
    service: str
    start: datetime
    status: BookingStatus
    # The start as its source wrote it, when it came as text (the same instant as `start`): the change
    # feed compares it unformatted, every booking every run. Not part of what a booking is.
    start_text: str = field(default="", compare=False, repr=False)


# Personal data: an error about one of these names the value's type, never the value (a phone given as
# the number 1055550001 would otherwise reach results, alerts and dead letters in full, unmasked).
_PERSONAL = frozenset({"phone", "customer_name"})


def _kind(value: object) -> str:
    return "a blank string" if isinstance(value, str) else f"a {type(value).__name__}"


def _text(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        got = _kind(value) if field in _PERSONAL else shown(value)
        raise InvalidBooking(f"booking.{field}: expected a non-empty string, got {got}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:  # JSON's "\ud800" decodes to a lone surrogate: no character at all
        raise InvalidBooking(
            f"booking.{field}: not valid Unicode text (a lone surrogate at character {err.start + 1})"
        ) from None
    return value


def _display(data: Mapping[str, Any], field: str, max_chars: int) -> str:
    value = data.get(field)
    # The common name: printable (so no lone surrogate), clean and short, kept as it is.
    if isinstance(value, str) and 0 < len(value) <= max_chars and clean_already(value):
        return value
    cleaned = clean_text(_text(data, field), max_chars)
    if not cleaned:
        raise InvalidBooking(f"booking.{field}: nothing printable left after removing control characters")
    return cleaned


def booking_id_of(data: object) -> str | None:
    """The record's id when it is a valid one: failures are reported against it."""
    return valid_id(data.get("id")) if isinstance(data, Mapping) else None


def parse_start(raw: object) -> datetime:
    try:
        return aware_instant(raw)
    except ValueError as err:
        raise InvalidBooking(f"booking.start: {err}") from None


_STATUSES = {status.value: status for status in BookingStatus}  # a dict hit, not an Enum call, per event


def parse_status(raw: object) -> BookingStatus:
    status = _STATUSES.get(str(raw))
    if status is None:
        allowed = ", ".join(s.value for s in BookingStatus)
        raise InvalidBooking(f"booking.status: expected one of {allowed}, got {shown(raw)}")
    return status


def booking_from_mapping(data: object) -> Booking:
    """Validate one booking record; raises InvalidBooking naming the first bad field."""
    if not isinstance(data, Mapping):
        raise InvalidBooking(f"booking: expected an object, got {type(data).__name__}")
    booking_id = booking_id_of(data)
    if booking_id is None:
        raise InvalidBooking(f"booking.id: {ID_RULE}, got {shown(data.get('id'))}")
    return Booking(
        booking_id=booking_id,
        customer_name=_display(data, "customer_name", MAX_NAME_CHARS),
        phone=normalise_phone(_text(data, "phone")),
        service=_display(data, "service", MAX_SERVICE_CHARS),
        start=parse_start(start := data.get("start")),
        status=parse_status(data.get("status")),
        start_text=start if isinstance(start, str) else "",
    )


def booking_to_mapping(booking: Booking) -> dict[str, str]:
    """The record booking_from_mapping reads back as the same booking (what an event carries)."""
    return {
        "id": booking.booking_id,
        "customer_name": booking.customer_name,
        "phone": booking.phone,
        "service": booking.service,
        "start": booking.start.isoformat(),
        "status": booking.status.value,
    }
