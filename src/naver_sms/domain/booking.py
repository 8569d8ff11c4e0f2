"""The Booking value object and its validation from plain mappings (API JSON, NATS events).

Everything a customer or an upstream system typed is cleaned here, once, before any rule sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from naver_sms.domain.errors import InvalidBooking
from naver_sms.domain.phone import normalise_phone
from naver_sms.domain.text import clean_text, shown

MAX_NAME_CHARS = 40
MAX_SERVICE_CHARS = 60
# An id becomes part of idempotency keys, log lines and DynamoDB/KV records: printable ASCII, bounded.
_BOOKING_ID = re.compile(r"[!-~]{1,128}")


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
    cleaned = clean_text(_text(data, field), max_chars)
    if not cleaned:
        raise InvalidBooking(f"booking.{field}: nothing printable left after removing control characters")
    return cleaned


def booking_id_of(data: object) -> str | None:
    """The record's id when it is a valid one: failures are reported against it."""
    if isinstance(data, Mapping):
        value = data.get("id")
        if isinstance(value, str) and _BOOKING_ID.fullmatch(value):
            return value
    return None


def parse_start(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise InvalidBooking(f"booking.start: expected an ISO-8601 string, got {shown(raw)}")
    try:
        start = datetime.fromisoformat(raw)
    except ValueError as err:
        raise InvalidBooking(f"booking.start: not ISO-8601: {shown(raw)}") from err
    if start.tzinfo is None:
        raise InvalidBooking(f"booking.start: needs a time zone offset, got {shown(raw)}")
    try:
        start.astimezone(UTC)
    except OverflowError as err:  # e.g. 9999-12-31T23:59:59-12:00 is past year 9999 in UTC
        raise InvalidBooking(f"booking.start: out of range in UTC: {shown(raw)}") from err
    return start


def parse_status(raw: object) -> BookingStatus:
    try:
        return BookingStatus(str(raw))
    except ValueError as err:
        allowed = ", ".join(s.value for s in BookingStatus)
        raise InvalidBooking(f"booking.status: expected one of {allowed}, got {shown(raw)}") from err


def booking_from_mapping(data: object) -> Booking:
    """Validate one booking record; raises InvalidBooking naming the first bad field."""
    if not isinstance(data, Mapping):
        raise InvalidBooking(f"booking: expected an object, got {type(data).__name__}")
    booking_id = booking_id_of(data)
    if booking_id is None:
        raise InvalidBooking(
            f"booking.id: expected 1-128 printable ASCII characters, got {shown(data.get('id'))}"
        )
    return Booking(
        booking_id=booking_id,
        customer_name=_display(data, "customer_name", MAX_NAME_CHARS),
        phone=normalise_phone(_text(data, "phone")),
        service=_display(data, "service", MAX_SERVICE_CHARS),
        start=parse_start(data.get("start")),
        status=parse_status(data.get("status")),
    )
