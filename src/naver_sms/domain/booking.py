"""The Booking value object and its validation from plain mappings (API JSON, NATS events)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from naver_sms.domain.errors import InvalidBooking

_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_PHONE_DIGITS = re.compile(r"\+?\d{9,15}")


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Booking:
    booking_id: str
    customer_name: str
    phone: str
    service: str
    start: datetime
    status: BookingStatus


def _text(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InvalidBooking(f"booking.{field}: expected a non-empty string, got {value!r}")
    return value.strip()


def normalise_phone(raw: str) -> str:
    """Digits only (SENS wants no separators); a leading + is kept for international numbers."""
    phone = _PHONE_SEPARATORS.sub("", raw)
    if not _PHONE_DIGITS.fullmatch(phone):
        raise InvalidBooking(f"booking.phone: expected 9-15 digits, got {raw!r}")
    return phone


def parse_start(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise InvalidBooking(f"booking.start: expected an ISO-8601 string, got {raw!r}")
    try:
        start = datetime.fromisoformat(raw)
    except ValueError as err:
        raise InvalidBooking(f"booking.start: not ISO-8601: {raw!r}") from err
    if start.tzinfo is None:
        raise InvalidBooking(f"booking.start: needs a time zone offset, got {raw!r}")
    return start


def parse_status(raw: object) -> BookingStatus:
    try:
        return BookingStatus(str(raw))
    except ValueError as err:
        allowed = ", ".join(s.value for s in BookingStatus)
        raise InvalidBooking(f"booking.status: expected one of {allowed}, got {raw!r}") from err


def booking_from_mapping(data: object) -> Booking:
    """Validate one booking record; raises InvalidBooking naming the first bad field."""
    if not isinstance(data, Mapping):
        raise InvalidBooking(f"booking: expected an object, got {type(data).__name__}")
    return Booking(
        booking_id=_text(data, "id"),
        customer_name=_text(data, "customer_name"),
        phone=normalise_phone(_text(data, "phone")),
        service=_text(data, "service"),
        start=parse_start(data.get("start")),
        status=parse_status(data.get("status")),
    )
