"""The Lambda's scheduled run: a session (kept, or a login the guard admits) → fetch booking records → a
reconcile pass over the sent log (a real run's, application/reconcile_pass.py) → plan every booking, and
the `events` rules for the events the change feed derives from them (application/change_feed.py, where a
store of what was seen is wired) → the volume breaker → deliver → record what the feed saw of each
booking whose messages are handed on → a summary.

With EVENTS_MODE send the run sends the events rules' messages itself, through the same Notifier and
under the same keys as the worker's handler, so a Lambda-only deployment sends every rule; with a
publisher (publish) it hands the events to the worker's stream instead and sends the scheduled rules
only; off, no store is wired and nothing is derived.

The pass comes after the bookings are read and before planning, so a message it releases (SENS never
accepted it) is sent by this same run if a rule still plans it, one it resolves is read as sent, and a
run that cannot log in or read Naver releases nothing it could not follow up. Its failure is in the
result, never the run's.

The session a warm environment kept is tried first; when the booking source says it is over, the run
logs in again, once, and fetches from the first page (nothing has been sent yet: records are all read
and planned before any is sent). Every login passes the login guard first, and a failed one (or a new
session refused at once) starts its backoff. A refusal for now (403, 429) fails the run fast and keeps
the session. Login, booking-source and sent-log failures stop the run (nothing can be trusted after
them); a bad record or a message that fails is one entry in `failed`, and the rest still go out.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from naver_sms.application import breaker, change_feed
from naver_sms.application.breaker import Held, HeldMemory, Lapsed
from naver_sms.application.change_feed import Changes, FeedReport
from naver_sms.application.deadline import NO_DEADLINE, Deadline
from naver_sms.application.delivery import FAILURES, TRY_AGAIN, Delivery, Outcome
from naver_sms.application.errors import (
    LoginDeferred,
    LoginFailed,
    SentLogError,
    SessionExpired,
    SourceRefused,
)
from naver_sms.application.login_guard import LoginGuard
from naver_sms.application.notify import Notifier, read_record
from naver_sms.application.ports import (
    Authenticator,
    BookingSource,
    EventPublisher,
    OpenClaims,
    Published,
    SeenBookings,
)
from naver_sms.application.reconcile import Reconciler
from naver_sms.application.reconcile_pass import DRY_RUN, ReconcileReport, Status, reconcile_pass
from naver_sms.application.session import Login, SessionKeeper
from naver_sms.domain.booking import Booking
from naver_sms.domain.messages import PlannedMessage

log = logging.getLogger(__name__)


@dataclass
class LoginTally:
    """What one run did about logins, kept whatever way the run ends (its metrics are written then)."""

    logins: int = 0  # login attempts the guard admitted (a browser was started)
    failed: int = 0
    deferred: int = 0  # attempts the guard refused: backoff, or the hour's logins spent


@dataclass(frozen=True)
class RunSummary:
    bookings: int
    deliveries: tuple[Delivery, ...]
    dry_run: bool
    login: Login
    held: Held | None = None  # the volume breaker held every send of this run
    held_is_news: bool = False  # not the same messages as the last hold: alert it
    lapsed: Lapsed | None = None  # messages an earlier run held that are no longer planned
    deferred: int = 0  # messages left for the next run: the deadline came first
    reconciled: ReconcileReport | None = None  # the pass before the run (None: none is wired)
    feed: FeedReport | None = None  # the change feed's events (None: no store of what was seen is wired)

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.outcome in FAILURES]

    @property
    def _feed_incomplete(self) -> bool:
        """Events left for the next run: not published, or not derived (the store unread)."""
        return self.feed is not None and bool(self.feed.unpublished or self.feed.read_error)

    def counts(self) -> Counter[Outcome]:
        return Counter(d.outcome for d in self.deliveries)

    def as_result(self) -> dict[str, Any]:
        counts = self.counts()
        result: dict[str, Any] = {
            "status": "held"
            if self.held
            else "partial"
            if self.failed or self.deferred or self._feed_incomplete
            else "ok",
            "bookings": self.bookings,
            "planned": sum(1 for d in self.deliveries if d.idempotency_key),
            "sent": counts[Outcome.SENT],
            "skipped_duplicates": counts[Outcome.DUPLICATE],
            # Claims another run holds, or already reported unknown: `make claims` lists them.
            "unresolved": counts[Outcome.IN_FLIGHT] + counts[Outcome.STILL_UNKNOWN],
            "dry_run": self.dry_run,
            "login": self.login.value,
            "failed": [d.as_record() for d in self.failed],
        }
        if self.held:
            result |= {"held": self.held.as_result(), "reason": self.held.explain()}
        if self.deferred:
            result["deferred"] = self.deferred
        if self.lapsed:
            result["lapsed"] = {"count": self.lapsed.count, "by_rule": self.lapsed.by_rule}
        if self.reconciled is not None:
            result["reconcile"] = self.reconciled.as_result()
        if self.feed is not None:
            result["feed"] = self.feed.as_result()
        return result


@dataclass(frozen=True)
class Handed:
    """What became of a run's events in publishing: `published`, and those not published because this
    Lambda's sent log had every message of theirs already."""

    published: Published
    sent_here: frozenset[str] = frozenset()

    def settled(self, event_id: str) -> bool:
        return event_id in self.published.acknowledged or event_id in self.sent_here


@dataclass(frozen=True)
class ScheduledRun:
    auth: Authenticator
    bookings: BookingSource
    notifier: Notifier
    sessions: SessionKeeper
    guard: LoginGuard
    identity: str  # whose session: the login page and account (never the password)
    max_session_age_seconds: float
    max_sends: int  # the volume breaker's limit (sms.max_per_run)
    held_memory: HeldMemory  # the environment's, like `sessions`
    deadline: Deadline = NO_DEADLINE
    open_claims: OpenClaims | None = None  # the sent log's open records, where the store can list them
    # Looks the sent log's unknowns and sends up in SENS: built when a real run's pass starts.
    reconciler: Callable[[], Reconciler] | None = None
    reconcile_share: float = 0.25  # of the time the deadline spares, at most, for the pass
    seen: SeenBookings | None = None  # the change feed's store; None: no events derived
    # Where the feed's events go: the worker's stream; None: this run sends their messages itself.
    publisher: EventPublisher | None = None
    tally: LoginTally = field(default_factory=LoginTally)
    # Every delivery so far, as it happens: a run that fails later still reports these (an unknown
    # among them above all), whatever stopped it.
    done: list[Delivery] = field(default_factory=list)
    # This run's reconcile pass, kept like `done`: what it moved is reported however the run ends (only
    # the pass whose write moved a record reports it, so a report lost here would be lost for good).
    reconciles: list[ReconcileReport] = field(default_factory=list)
    feed_errors: list[str] = field(default_factory=list)  # this run's: why the feed's store was not read

    @property
    def reconciled(self) -> ReconcileReport | None:
        return self.reconciles[-1] if self.reconciles else None

    def _unread(self) -> FeedReport | None:
        return FeedReport(False, read_error=self.feed_errors[-1]) if self.feed_errors else None

    async def __call__(self, now: datetime, *, allow_sends: int | None = None) -> RunSummary:
        self.done.clear()
        self.reconciles.clear()
        self.deadline.check_at_start()
        records, login = await self.records()
        await self._reconcile()  # after the bookings: what it releases, this run plans and sends
        read = [read_record(record) for record in records]  # each validated once, for both uses
        # One booking per id, its last copy: pages read while the shop moves a booking may list it twice,
        # and a reminder per start instant would go out for each start.
        bookings = list({b.booking_id: b for b in read if isinstance(b, Booking)}.values())
        found = await self._changes(bookings, now)
        # The events' messages first: a confirmation or a cancellation is news, a reminder can wait a run.
        per_event = {e.event_id: self.notifier.plan_event(e, now) for e in found.events} if found else {}
        event_plans = [plan for plans in per_event.values() for plan in plans]
        invalid = [d for d in read if isinstance(d, Delivery)]
        scheduled = invalid + [p for b in bookings for p in self.notifier.plan_booking(b, now)]
        plans = event_plans + scheduled
        dry_run = self.notifier.dry_run
        # Published, the events' messages are the worker's to send: planned here only for the breaker
        # (they go out because of this run all the same) and for a dry run, which shows them.
        publisher = self.publisher if found is not None and not dry_run else None
        to_deliver = plans[len(event_plans) :] if publisher is not None else plans
        lapsed = None
        if not dry_run:
            held = breaker.check(await self._new(plans), self.max_sends, allow_sends)
            if held is not None:
                log.warning("volume breaker: run held", extra={"held": held.as_result()})
                self.done.extend(p for p in plans if isinstance(p, Delivery))
                await self._sweep()  # a hold may last hours: what the log has open is reported all the same
                news = self.held_memory.held(held)
                return RunSummary(
                    len(records),
                    tuple(self.done),
                    dry_run,
                    login,
                    held,
                    held_is_news=news,
                    reconciled=self.reconciled,
                    feed=self._unread() if found is None else _unrecorded(found),
                )
            lapsed = self.held_memory.passed([p for p in plans if isinstance(p, PlannedMessage)])
        published = None
        if publisher is not None and found is not None:
            published = await self._publish(publisher, found, per_event)
        deferred = 0
        delivered: list[Delivery | None] = []  # each plan's delivery; None: deferred
        for plan in to_deliver:
            if isinstance(plan, PlannedMessage) and (deferred or not self.deadline.allows_a_send()):
                deferred += 1  # never claimed: the next run sends it, and nobody reports it unknown
                delivered.append(None)
                continue
            delivery = await self.notifier.deliver(plan)
            self.done.append(delivery)
            delivered.append(delivery)
        if deferred:
            log.warning("deadline: messages left for the next run", extra={"deferred": deferred})
        elif not dry_run:
            await self._sweep()
        return RunSummary(
            len(records),
            tuple(self.done),
            dry_run,
            login,
            lapsed=lapsed,
            deferred=deferred,
            reconciled=self.reconciled,
            feed=await self._record(found, published, event_plans, delivered),
        )

    async def _changes(self, bookings: list[Booking], now: datetime) -> Changes | None:
        """The feed's events, or None (no store wired, or its read failed: said in the result, and the
        rest of the run goes on, as nothing of the feed's is recorded, the next run derives them)."""
        self.feed_errors.clear()
        if self.seen is None:
            return None
        try:
            return await change_feed.changes(self.seen, bookings, now)
        except SentLogError as err:
            log.error(
                "the change feed's store could not be read; no events this run", extra={"error": str(err)}
            )
            self.feed_errors.append(str(err))
            return None

    async def _publish(
        self, publisher: EventPublisher, found: Changes, per_event: dict[str, list[PlannedMessage | Delivery]]
    ) -> Handed:
        """The run's events to the worker's stream, unless the deadline leaves no time for a send (then
        the next run derives them again). An event every message of which this Lambda's sent log has
        already (sent when the Lambda sent the events rules itself, before NATS was configured) is not
        published: the worker's sent log has never seen them, and would send them a second time."""
        if not found.events:
            return Handed(Published(frozenset()))
        if not self.deadline.allows_a_send():
            return Handed(Published(frozenset(), "the deadline came first: left for the next run"))
        sent_here = {e.event_id for e in found.events if await self._sent_here(per_event[e.event_id])}
        to_publish = [e for e in found.events if e.event_id not in sent_here]
        published = await publisher.publish(to_publish, go_on=self.deadline.allows_a_send)
        if published.error is not None:
            log.warning(
                "events not handed on: the next run derives them again",
                extra={
                    "unpublished": len(found.events) - len(sent_here) - len(published.acknowledged),
                    "error": published.error,
                },
            )
        return Handed(published, frozenset(sent_here))

    async def _sent_here(self, plans: list[PlannedMessage | Delivery]) -> bool:
        messages = [p for p in plans if isinstance(p, PlannedMessage)]
        sent_log = self.notifier.deliverer.sent_log
        return bool(messages) and all([await sent_log.lookup(m) is not None for m in messages])

    async def _record(
        self,
        found: Changes | None,
        published: Handed | None,
        event_plans: list[PlannedMessage | Delivery],
        delivered: list[Delivery | None],
    ) -> FeedReport | None:
        """What the feed saw, stored for each booking none of whose events is left to hand on again: one
        not published (not acknowledged), or, sent here, one of whose messages is left to try again
        (deferred, RETRY, a live claim elsewhere): those derive the same event next run. A dry run stores
        nothing. A store that fails is logged: the next run derives the same events, and the stream or
        the sent log answers what was handed on already as a duplicate."""
        if found is None:
            return self._unread()
        if self.seen is None or self.notifier.dry_run:
            return _unrecorded(found)
        if published is not None:
            unsettled = {e.booking.booking_id for e in found.events if not published.settled(e.event_id)}
        else:
            unsettled = {
                plan.booking_id
                for plan, delivery in zip(event_plans, delivered, strict=False)
                if delivery is None or delivery.outcome in TRY_AGAIN
            }
        try:
            report = await change_feed.record(self.seen, found, unsettled)
        except SentLogError as err:
            log.error("the change feed could not record what it saw", extra={"error": str(err)})
            report = _unrecorded(found)
        if published is None:
            return report
        return report.handed_on(published.published, len(found.events), len(published.sent_here))

    async def _reconcile(self) -> None:
        if self.reconciler is None:
            return
        if self.notifier.dry_run:
            self.reconciles.append(ReconcileReport(Status.SKIPPED, reason=DRY_RUN))
            return
        self.reconciles.append(await reconcile_pass(self.reconciler, self.deadline, self.reconcile_share))

    async def _sweep(self) -> None:
        """What the sent log still has open that this run did not settle: a claim whose sender died, an
        unknown whose reporter died. Found whatever any run plans today (its window may have closed,
        its booking gone from the API), so no such SMS goes unreported for good. A sweep that fails is
        logged and tried again next run; the run's own outcomes stand."""
        if self.open_claims is None:
            return
        settled = {d.idempotency_key for d in self.done}
        try:
            for message, _ in await self.open_claims.open_claims():
                if message.idempotency_key in settled:
                    continue
                found = await self.notifier.deliverer.look_again(message)
                if found is not None and found.outcome is Outcome.UNKNOWN:
                    self.done.append(found)
        except SentLogError as err:
            log.error("the sweep of open sent-log records failed", extra={"error": str(err)})

    async def _new(self, plans: list[PlannedMessage | Delivery]) -> list[PlannedMessage]:
        """The messages this run would really send: those the sent log has never seen."""
        sent_log = self.notifier.deliverer.sent_log
        return [p for p in plans if isinstance(p, PlannedMessage) and await sent_log.lookup(p) is None]

    async def records(self) -> tuple[list[object], Login]:
        """Every booking record, on the kept session or a login the guard admits (make preview too).
        While the booking API's last Retry-After lasts, no request is made at all."""
        wait = self.sessions.wait_left(self.identity)
        if wait > 0:
            raise SourceRefused(
                f"the booking API asked to wait; {wait:.0f} s of it left, so no request was made"
            )
        try:
            return await self._records()
        except SourceRefused as err:
            if err.retry_after:
                self.sessions.asked_to_wait(self.identity, err.retry_after)
            raise

    async def _records(self) -> tuple[list[object], Login]:
        kept = self.sessions.current(self.identity, self.max_session_age_seconds)
        if kept is not None:
            try:
                return list(await self.bookings.fetch(kept)), Login.REUSED
            except SessionExpired as err:
                log.info("the kept Naver session is over; logging in again", extra={"reason": str(err)})
                self.sessions.forget()
        cookies = await self._login()
        self.sessions.keep(self.identity, cookies)
        try:
            records = list(await self.bookings.fetch(cookies))
        except SessionExpired as err:
            self.sessions.forget()  # refused right after its login: nothing worth keeping
            self.tally.failed += 1
            await self._guard_failed(f"a new session was refused at once: {err}")
            raise
        await self.guard.succeeded()
        return records, Login.FRESH

    async def _login(self) -> dict[str, str]:
        try:
            await self.guard.admit()
        except LoginDeferred:
            self.tally.deferred += 1
            raise
        self.tally.logins += 1
        try:
            return dict(await self.auth.login())
        except LoginFailed as err:
            self.tally.failed += 1
            await self._guard_failed(str(err))
            raise

    async def _guard_failed(self, reason: str) -> None:
        # The failure being reported is the run's error; a guard that cannot record it must not hide
        # it. The login was counted when admitted, so the hour's limit still holds without the record.
        try:
            await self.guard.failed(reason)
        except SentLogError as err:
            log.error("the login guard could not record a failed login", extra={"error": str(err)})


def _unrecorded(found: Changes) -> FeedReport:
    return FeedReport(found.baseline, Counter(e.type for e in found.events))
