"""What a booking and an event both carry, read one way: ids and instants with their offset."""

from __future__ import annotations

import re
from datetime import MAXYEAR, MINYEAR, UTC, datetime

from naver_sms.domain.text import shown

# An id becomes part of idempotency keys, log lines, notification records and DynamoDB/KV records:
# printable ASCII, bounded.
_ID = re.compile(r"[!-~]{1,128}")
ID_RULE = "expected 1-128 printable ASCII characters"
_EDGE_YEARS = (MINYEAR, MAXYEAR)


def valid_id(value: object) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def aware_instant(raw: object) -> datetime:
    """An ISO-8601 string with a time zone offset that is an instant in UTC too; raises ValueError
    saying what is wrong with it."""
    if not isinstance(raw, str):
        raise ValueError(f"expected an ISO-8601 string, got {shown(raw)}")
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError as err:
        raise ValueError(f"not ISO-8601: {shown(raw)}") from err
    if instant.tzinfo is None:
        raise ValueError(f"needs a time zone offset, got {shown(raw)}")
    # An offset is under a day, so only an instant in the first or last year can leave datetime's
    # range in UTC (9999-12-31T23:59:59-12:00 is past year 9999): the check is made only there.
    if instant.year in _EDGE_YEARS:
        try:
            instant.astimezone(UTC)
        except OverflowError as err:
            raise ValueError(f"out of range in UTC: {shown(raw)}") from err
    return instant
