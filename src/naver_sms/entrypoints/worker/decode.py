"""An event's bytes to a BookingEvent: every way a payload can be unreadable is an InvalidEvent, so it is
dead-lettered at once."""

from __future__ import annotations

import orjson

from naver_sms.domain.errors import InvalidEvent
from naver_sms.domain.events import BookingEvent, event_from_mapping

MAX_EVENT_DEPTH = 32  # a booking event is three levels deep; anything far deeper is hostile


def decode_event(data: bytes, max_bytes: int) -> BookingEvent:
    if len(data) > max_bytes:
        raise InvalidEvent(
            f"the event is {len(data)} bytes; the limit is {max_bytes} (WORKER_MAX_EVENT_BYTES)"
        )
    try:
        # orjson: strict RFC 8259 UTF-8 JSON (no NaN, no UTF-16), with a depth limit instead of a
        # RecursionError, and a quarter of the json module's time per event.
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise InvalidEvent(f"not JSON: {err}") from err
    # Each level needs an opening bracket: with few of them, the walk cannot find too many levels.
    brackets = data.count(b"[") + data.count(b"{")
    if brackets > MAX_EVENT_DEPTH and _depth(payload) > MAX_EVENT_DEPTH:
        raise InvalidEvent(f"the event is nested deeper than {MAX_EVENT_DEPTH} levels")
    try:
        return event_from_mapping(payload)
    except InvalidEvent:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise InvalidEvent(f"event: unreadable value: {type(err).__name__}: {err}") from err


def _depth(value: object) -> int:
    """Nesting depth without recursion: a hostile payload cannot blow the stack here."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_EVENT_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest
