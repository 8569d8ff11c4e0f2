"""The Lambda's scheduled run: login → fetch bookings → evaluate rules → send → record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from naver_sms.application.delivery import Outcome, deliver
from naver_sms.application.ports import Authenticator, BookingSource, SentLog, SmsTransport
from naver_sms.domain.rules import RuleSet


@dataclass(frozen=True)
class RunSummary:
    bookings: int
    planned: int
    sent: int
    skipped_duplicates: int
    dry_run: bool

    def as_result(self) -> dict[str, object]:
        return {
            "status": "ok",
            "bookings": self.bookings,
            "planned": self.planned,
            "sent": self.sent,
            "skipped_duplicates": self.skipped_duplicates,
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True)
class RunDeps:
    auth: Authenticator
    bookings: BookingSource
    rules: RuleSet
    transport: SmsTransport
    sent_log: SentLog


def run_scheduled(deps: RunDeps, now: datetime, *, dry_run: bool) -> RunSummary:
    """Errors from the outside world propagate; every message sent before one stays recorded,
    so a rerun sends only what is missing."""
    bookings = deps.bookings.fetch(deps.auth.login())
    planned = [message for booking in bookings for message in deps.rules.evaluate(booking, now)]
    outcomes = [deliver(m, deps.transport, deps.sent_log, dry_run=dry_run).outcome for m in planned]
    return RunSummary(
        bookings=len(bookings),
        planned=len(planned),
        sent=outcomes.count(Outcome.SENT),
        skipped_duplicates=outcomes.count(Outcome.DUPLICATE),
        dry_run=dry_run,
    )
