"""Booking records as the Naver API returns them, timed relative to now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from naver_sms.application.reconcile_pass import DRY_RUN
from naver_sms.application.reconcile_result import ReconcileResult

KST = timezone(timedelta(hours=9))


def record(n: int, status: str, starts_in: timedelta, *, now: datetime | None = None) -> dict[str, Any]:
    """Booking n as the booking API gives it, starting `starts_in` after `now` (by default this instant)."""
    start = ((now or datetime.now(KST)) + starts_in).replace(microsecond=0)
    return {
        "id": f"bk-{n}",
        "customer_name": f"손님{n}",
        "phone": f"010-5555-{n:04d}",
        "service": "커트",
        "start": start.isoformat(),
        "status": status,
    }


def mixed_bookings() -> list[dict[str, Any]]:
    """Eight bookings of every status; the scheduled run plans five messages for them (three reminders
    inside the 24-hour window before the start, two thank-yous inside the window from 1 h to 24 h after
    it); confirmations and cancellations are the worker's."""
    return [
        record(1, "confirmed", timedelta(hours=3)),
        record(2, "confirmed", timedelta(days=3)),
        record(3, "completed", timedelta(hours=-2)),
        record(4, "cancelled", timedelta(days=1)),
        record(5, "pending", timedelta(days=2)),
        record(6, "confirmed", timedelta(hours=5)),
        record(7, "completed", timedelta(hours=-20)),
        record(8, "confirmed", timedelta(hours=20)),
    ]


# What a dry run over mixed_bookings() answers: eight bookings, five planned messages, nothing sent.
# What the Lambda's reconcile pass says in a run's result: a dry run skips it; a real run's pass over a
# sent log with nothing to reconcile moves nothing.
RECONCILE_SKIPPED = {"status": "skipped", "reason": DRY_RUN}
RECONCILED_NOTHING = {
    "status": "ok",
    "counts": dict.fromkeys(ReconcileResult().counts(), 0),
    "handset_failed": [],
    "expired": [],
    "errors": [],
}
# The change feed against an empty store: a baseline, no events; a dry run records none of it.
BASELINE = {
    "baseline": True,
    "events": {"booking.created": 0, "booking.updated": 0, "booking.cancelled": 0, "booking.completed": 0},
    "recorded": 0,
}
DRY_RUN_RESULT = {
    "status": "ok",
    "bookings": 8,
    "planned": 5,
    "sent": 0,
    "skipped_duplicates": 0,
    "login": "fresh",
    "unresolved": 0,
    "dry_run": True,
    "failed": [],
    "reconcile": RECONCILE_SKIPPED,
    "feed": BASELINE,
}


# A scheduled thank-you as config/rules.yaml has it (its window), for the use-case tests' own rule sets.
THANKS_RULE = {
    "name": "thanks",
    "key": "scheduled/thanks",
    "status": "completed",
    "sent_by": "scheduled",
    "send_window": {"from": "1h after start", "until": "24h after start"},
    "template": "{customer_name}님 감사",
}
