"""The Lambda's scheduled run: a session (kept, or a login) → fetch booking records → each booking on its
own → a summary.

The session a warm environment kept is tried first; when the booking source says it is over, the run
logs in again, once, and fetches from the first page (nothing has been sent yet: records are all read
before any is planned). Login, booking-source and sent-log failures stop the run (nothing can be trusted
after them); a bad record or a message that fails is one entry in `failed`, and the rest still go out.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from naver_sms.application.delivery import FAILURES, Delivery, Outcome
from naver_sms.application.errors import SessionExpired
from naver_sms.application.notify import Notifier
from naver_sms.application.ports import Authenticator, BookingSource
from naver_sms.application.session import Login, SessionKeeper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    bookings: int
    deliveries: tuple[Delivery, ...]
    dry_run: bool
    login: Login

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.outcome in FAILURES]

    def counts(self) -> Counter[Outcome]:
        return Counter(d.outcome for d in self.deliveries)

    def as_result(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "status": "partial" if self.failed else "ok",
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


@dataclass(frozen=True)
class ScheduledRun:
    auth: Authenticator
    bookings: BookingSource
    notifier: Notifier
    sessions: SessionKeeper
    identity: str  # whose session: the login page and account (never the password)
    max_session_age_seconds: float

    async def __call__(self, now: datetime) -> RunSummary:
        records, login = await self._records()
        deliveries = [d for record in records for d in await self.notifier.notify_record(record, now)]
        return RunSummary(len(records), tuple(deliveries), self.notifier.dry_run, login)

    async def _records(self) -> tuple[Sequence[object], Login]:
        kept = self.sessions.current(self.identity, self.max_session_age_seconds)
        if kept is not None:
            try:
                return await self.bookings.fetch(kept), Login.REUSED
            except SessionExpired as err:
                log.info("the kept Naver session is over; logging in again", extra={"reason": str(err)})
                self.sessions.forget()
        cookies = await self.auth.login()
        self.sessions.keep(self.identity, cookies)
        try:
            return await self.bookings.fetch(cookies), Login.FRESH
        except SessionExpired:
            self.sessions.forget()  # refused right after its login: nothing worth keeping
            raise
