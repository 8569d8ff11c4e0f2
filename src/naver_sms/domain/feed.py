"""The change feed (#37): what the scheduled run saw of a booking last time against what it reads now, as
booking events, so one pipeline turns the booking API into the events the `events` rules answer.

Only what a rule or a template turns on is compared: the status, the start and the service. A customer
who corrects their name earns no message. Pure: the store of what was seen is the application's port.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from naver_sms.domain.booking import Booking, BookingStatus, parse_start, parse_status
from naver_sms.domain.errors import InvalidBooking
from naver_sms.domain.events import BookingEvent, EventType

# A status change to one of these is its own event; any other change (a start or a service moved, a
# pending booking confirmed) is an update.
_ENDINGS = {BookingStatus.CANCELLED: EventType.CANCELLED, BookingStatus.COMPLETED: EventType.COMPLETED}


_SEP = "\x1f"  # never in a status, an ISO date-time or a cleaned service name (control characters go)


@dataclass(frozen=True)
class Seen:
    """What the scheduled run last saw of one booking."""

    status: BookingStatus
    start: datetime  # aware
    service: str
    start_text: str = field(default="", compare=False)  # the start as it was written (Booking's)

    @classmethod
    def of(cls, booking: Booking) -> Seen:
        return cls(booking.status, booking.start, booking.service, booking.start_text)

    @property
    def state(self) -> str:
        return state_of(self)

    def same_as(self, other: Seen) -> bool:
        # Instants, not offsets (aware datetimes compare as instants): the API giving +09:00 one day and
        # Z the next moves nothing.
        return (self.status, self.start, self.service) == (other.status, other.start, other.service)

    @classmethod
    def from_state(cls, state: str) -> Seen:
        """The Seen whose `state` this is; raises InvalidBooking for any other string."""
        parts = state.split(_SEP)
        if len(parts) != 3:
            raise InvalidBooking(f"a seen state has 3 parts, this has {len(parts)}")
        status, start, service = parts
        return cls(parse_status(status), parse_start(start), service, start)


def state_of(booking: Booking | Seen) -> str:
    """What is compared of a booking, as one string (Seen.state): a store keeps it, and an unchanged
    booking (most of them, every run) is told by comparing strings, with nothing decoded or built. The
    same string is the same state; a different one may still be (the start in another offset): then
    Seen.same_as decides."""
    # A StrEnum is its value; the start as it was written: formatting 500 datetimes would be most of
    # what the feed costs a run.
    return _SEP.join((booking.status, booking.start_text or booking.start.isoformat(), booking.service))


def change(before: Seen | None, booking: Booking, now: datetime) -> EventType | None:
    """The event `booking` makes against what was seen of it before (None: never seen); None for no event.

    A booking first seen after the baseline is `created`, unless it started already (a past booking the
    API returns for the first time, the shop's history or a long outage, is no news to its customer), or
    it is cancelled or completed already: then it is that event. So a booking whose creation was handed
    on but never recorded (a run killed between the two) and that was cancelled before the next run
    still makes `booking.cancelled`, the event its customer must hear of. A booking that was and still
    is cancelled (or completed) makes none, whatever else moved: no news for its customer either.
    """
    if before is None:
        if booking.start <= now:
            return None
        return _ENDINGS.get(booking.status, EventType.CREATED)
    if before.same_as(Seen.of(booking)):
        return None
    if booking.status is before.status and booking.status in _ENDINGS:
        return None
    if booking.status is not before.status and booking.status in _ENDINGS:
        return _ENDINGS[booking.status]
    return EventType.UPDATED


def event_id(booking: Booking, kind: EventType) -> str:
    """The same for the same change however often it is derived (a run that died before recording what
    it saw derives it again), so a publisher can deduplicate on it: booking id, type and new state."""
    start = booking.start.astimezone(UTC).isoformat()
    material = "\x1f".join((booking.booking_id, kind.value, booking.status.value, start, booking.service))
    return "feed-" + hashlib.sha256(material.encode()).hexdigest()[:40]


def derive(before: Seen | None, booking: Booking, now: datetime) -> BookingEvent | None:
    kind = change(before, booking, now)
    if kind is None:
        return None
    return BookingEvent(event_id(booking, kind), kind, now, booking)
