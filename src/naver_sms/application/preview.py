"""What the next scheduled run would send, decided as the run decides it, with nothing claimed or sent.

The same planning (`Notifier.plan_record`, and `plan_event` for the booking events its change feed would
derive) and the same breaker; the sent log and the feed's store are only read. Where the sent log cannot
be read (no AWS credentials on a laptop previewing a file), the preview says so and shows everything
planned as new, which is what a first run against an empty sent log would send; where the feed's store
cannot, it derives no events and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from naver_sms.application import breaker, change_feed
from naver_sms.application.breaker import Held
from naver_sms.application.change_feed import Changes
from naver_sms.application.delivery import Delivery
from naver_sms.application.errors import SentLogError
from naver_sms.application.notify import Notifier, read_record
from naver_sms.application.ports import SeenBookings, Standing, standing
from naver_sms.domain.booking import Booking
from naver_sms.domain.messages import PlannedMessage

NEW = "new"  # the sent log has never seen it: the next real run sends it


@dataclass(frozen=True)
class Row:
    message: PlannedMessage
    status: str  # NEW, or the sent log's standing of its claim (sent, unknown, live, stale)


@dataclass(frozen=True)
class Preview:
    rows: tuple[Row, ...]
    invalid: tuple[Delivery, ...]  # records or messages that cannot be sent as they are
    sent_log_error: str  # why the sent log could not be read ("" when it was)
    held: Held | None  # what the volume breaker would do with the new ones
    feed: Changes | None = None  # the booking events the run would derive (None: no store read)
    feed_error: str = ""  # why the feed's store could not be read

    @property
    def new(self) -> list[PlannedMessage]:
        return [row.message for row in self.rows if row.status == NEW]


async def preview(
    notifier: Notifier,
    records: list[object],
    now: datetime,
    *,
    max_sends: int,
    wall_clock: float,
    seen: SeenBookings | None = None,
) -> Preview:
    feed, feed_error = None, ""
    if seen is not None:
        bookings = [b for b in map(read_record, records) if isinstance(b, Booking)]
        try:
            feed = await change_feed.changes(seen, bookings, now)
        except SentLogError as err:
            feed_error = str(err)
    event_plans = [p for e in feed.events for p in notifier.plan_event(e, now)] if feed else []
    plans = event_plans + [plan for record in records for plan in notifier.plan_record(record, now)]
    messages = [p for p in plans if isinstance(p, PlannedMessage)]
    try:
        statuses = [await _status(notifier, m, wall_clock) for m in messages]
        error = ""
    except SentLogError as err:
        statuses, error = [NEW] * len(messages), str(err)
    rows = tuple(Row(m, s) for m, s in zip(messages, statuses, strict=True))
    new = [row.message for row in rows if row.status == NEW]
    invalid = tuple(p for p in plans if isinstance(p, Delivery))
    return Preview(rows, invalid, error, breaker.check(new, max_sends, None), feed, feed_error)


async def _status(notifier: Notifier, message: PlannedMessage, wall_clock: float) -> str:
    claim = await notifier.deliverer.sent_log.lookup(message)
    if claim is None:
        return NEW
    lease = notifier.deliverer.lease_seconds
    found: Standing = standing(claim.state, wall_clock - claim.at, lease)
    return found.value
