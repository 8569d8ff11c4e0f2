"""The Lambda's scheduled run: login → fetch booking records → each booking on its own → a summary.

Login, booking-source and sent-log failures stop the run (nothing can be trusted after them); a bad
record or a message that fails is one entry in `failed`, and the rest still go out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from naver_sms.application.delivery import FAILURES, Delivery, Outcome
from naver_sms.application.notify import Notifier
from naver_sms.application.ports import Authenticator, BookingSource


@dataclass(frozen=True)
class RunSummary:
    bookings: int
    deliveries: tuple[Delivery, ...]
    dry_run: bool

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
            "failed": [d.as_record() for d in self.failed],
        }


@dataclass(frozen=True)
class ScheduledRun:
    auth: Authenticator
    bookings: BookingSource
    notifier: Notifier

    async def __call__(self, now: datetime) -> RunSummary:
        records = await self.bookings.fetch(await self.auth.login())
        deliveries = [d for record in records for d in await self.notifier.notify_record(record, now)]
        return RunSummary(len(records), tuple(deliveries), self.notifier.dry_run)
