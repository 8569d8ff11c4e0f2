"""One shop's bookings over many runs of the Lambda's root over fakes, with the shipped rules: the change
feed's tests (tests/unit/test_run_feed.py, test_run_publish.py) share it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from naver_sms.application.scheduled_run import RunSummary, ScheduledRun
from naver_sms.bootstrap import lambda_image
from naver_sms.settings.rules import load_rules
from tests.support.fakes import (
    FakeBookingSource,
    FakePublisher,
    FakeSeenBookings,
    FakeSentLog,
    FakeTransport,
    Killed,
)
from tests.support.roots import lambda_run, unit_settings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SETTINGS = unit_settings()
RULES = load_rules(SETTINGS.rules_path)  # the shipped rules
NO_EVENTS = {"booking.created": 0, "booking.updated": 0, "booking.cancelled": 0, "booking.completed": 0}


def record(n: int, status: str = "confirmed", days: float = 3, **change: Any) -> dict[str, Any]:
    return {
        "id": f"bk-{n}",
        "customer_name": f"손님{n}",
        "phone": f"010-5555-{n:04d}",
        "service": "커트",
        "start": (NOW + timedelta(days=days)).isoformat(),
        "status": status,
        **change,
    }


class Shop:
    """One shop's bookings over many runs of the Lambda's root: the sent log and the feed's store share
    one table, as they do in DynamoDB."""

    def __init__(self, *records: dict[str, Any], max_sends: int = 30) -> None:
        self.publisher: FakePublisher | None = None  # set: the Lambda publishes its events (NATS mode)
        self.source = FakeBookingSource(list(records))
        self.sent_log = FakeSentLog()
        self.seen = FakeSeenBookings(self.sent_log.records)
        self.transport = FakeTransport()
        self.settings = unit_settings(SMS_MAX_PER_RUN=str(max_sends))
        self.now = NOW

    def run(self, *, dry_run: bool = False, time_left: Callable[[], float] | None = None) -> ScheduledRun:
        return lambda_run(
            self.transport,
            self.sent_log,
            rules=RULES,
            dry_run=dry_run,
            settings=self.settings,
            bookings=self.source,
            seen=self.seen,
            publisher=self.publisher,
            warm=lambda_image.Warm(),
            time_left=time_left,
        )

    def ran(self, *, dry_run: bool = False) -> dict[str, Any]:
        summary: RunSummary = asyncio.run(self.run(dry_run=dry_run)(self.now))
        return summary.as_result()

    def killed_before_its_record(self) -> None:
        """One run killed after it handed its events on, before it recorded what it saw (a Lambda timed
        out there)."""
        self.seen.killed_before_record = True
        with pytest.raises(Killed):
            self.ran()
        self.seen.killed_before_record = False

    def books(self, *records: dict[str, Any]) -> None:
        """The API returns these now, in place of what it returned (same id: the booking changed)."""
        ids = {r["id"] for r in records}
        self.source.records = [r for r in self.source.records if r["id"] not in ids] + list(records)  # type: ignore[index]

    def sent(self) -> list[tuple[str, str]]:
        return [(m.rule, m.booking_id) for m in self.transport.sent]


def events(**counts: int) -> dict[str, int]:
    return NO_EVENTS | {f"booking.{kind}": n for kind, n in counts.items()}


def baselined(*records: dict[str, Any]) -> Shop:
    shop = Shop(*records)
    first = shop.ran()
    assert first["feed"] == {"baseline": True, "events": NO_EVENTS, "recorded": len(records)}
    return shop
