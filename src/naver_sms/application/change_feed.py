"""The scheduled run's change feed (#37): the booking records it read against what it saw last time (the
SeenBookings port) → booking events (domain/feed.py) → and, once their messages are handed on, what it
saw now, recorded.

The first run against an empty store takes a baseline: it records every booking and derives nothing,
so switching the feed on messages nobody about bookings made before it. What was seen of a booking is
recorded only after every delivery of its event ended in an outcome that will not change by trying
again; a run that dies (or defers, or meets a RETRY or a live claim) in between leaves it as it was, so
the next run derives the same event again, and the sent log answers what was already sent as a
duplicate. A dry run records nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from naver_sms.application.ports import Published, SeenBookings
from naver_sms.domain.booking import Booking
from naver_sms.domain.events import BookingEvent, EventType
from naver_sms.domain.feed import Seen, derive, state_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changes:
    """What one run derived, and what it will record for each booking whose events are handed on:
    booking id → (what it saw now, the revision it read; None: no record yet)."""

    baseline: bool
    events: tuple[BookingEvent, ...]
    to_record: dict[str, tuple[Seen, str | None]]
    mark_baseline: bool = False  # the baseline's own record is missing: write it (again) with these


@dataclass(frozen=True)
class FeedReport:
    """The feed's part of a run's result and metrics."""

    baseline: bool
    derived: Counter[EventType] = field(default_factory=Counter)
    recorded: int = 0  # bookings whose new state was stored
    lost: int = 0  # ... that another run had stored first (its state stands)
    # Handed to the worker's stream (None: this run sent their messages itself), and why not all were.
    published: int | None = None
    unpublished: int = 0
    publish_error: str | None = None
    sent_here: int = 0  # not published: this Lambda had sent every message of theirs before NATS
    read_error: str | None = None  # the store could not be read: no events this run

    def handed_on(self, published: Published, derived: int, sent_here: int) -> FeedReport:
        acknowledged = len(published.acknowledged)
        return replace(
            self,
            published=acknowledged,
            unpublished=derived - acknowledged - sent_here,
            publish_error=published.error,
            sent_here=sent_here,
        )

    def as_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "baseline": self.baseline,
            "events": {kind.value: self.derived[kind] for kind in EventType},
            "recorded": self.recorded,
        }
        if self.published is not None:
            result |= {"published": self.published, "unpublished": self.unpublished}
        if self.publish_error is not None:
            result["publish_error"] = self.publish_error
        if self.sent_here:
            result["sent_here"] = self.sent_here
        if self.read_error is not None:
            result["error"] = self.read_error
        return result


async def changes(store: SeenBookings, valid: Sequence[Booking], now: datetime) -> Changes:
    """The events `valid` (the run's valid bookings: an invalid record is reported by planning, and has
    no state to compare) make against what was seen; a repeated id counts as its last."""
    bookings = {booking.booking_id: booking for booking in valid}
    marked = await store.started()
    held = await store.read({booking_id: state_of(booking) for booking_id, booking in bookings.items()})
    differing = {booking_id: seen for booking_id, seen in held.items() if booking_id in bookings}  # as asked
    # Bookings recorded without the baseline's own record (lost, or deleted by hand): the feed has a
    # past, and what it holds is compared as ever; the mark is written again. A booking left out of
    # `differing` is held unchanged.
    started = (
        marked or len(differing) < len(bookings) or any(s.revision is not None for s in differing.values())
    )
    if started and not marked:
        log.warning("the change feed's baseline record is missing; its bookings are compared as ever")
    events: list[BookingEvent] = []
    to_record: dict[str, tuple[Seen, str | None]] = {}
    unreadable = 0
    for booking_id, sighting in differing.items():
        booking = bookings[booking_id]
        # Changed, or the same instant given in another offset (derive finds no event; its new form is
        # recorded, so the next run's comparison is of strings again).
        to_record[booking_id] = (Seen.of(booking), sighting.revision)
        before = sighting.seen
        if sighting.revision is not None and before is None:
            unreadable += 1  # a record no reader understands: like the baseline's, recorded anew, no event
            continue
        event = derive(before, booking, now) if started else None
        if event is not None:
            events.append(event)
    if unreadable:
        log.warning(
            "unreadable change-feed records recorded anew, no event derived", extra={"bookings": unreadable}
        )
    return Changes(not started, tuple(events), to_record, mark_baseline=not marked)


async def record(store: SeenBookings, found: Changes, unsettled: Collection[str]) -> FeedReport:
    """Store what was seen of every booking but `unsettled` ones (an event of theirs is still to be
    handed on); the baseline is taken once all of its bookings are stored."""
    recorded = lost = 0
    for booking_id, (seen, revision) in found.to_record.items():
        if booking_id in unsettled:
            continue
        if await store.record(booking_id, seen, revision):
            recorded += 1
        else:
            lost += 1
    if lost:
        log.info("another run recorded these bookings first; its state stands", extra={"bookings": lost})
    if found.mark_baseline:
        await store.baseline_taken()
    return FeedReport(found.baseline, Counter(e.type for e in found.events), recorded, lost)
