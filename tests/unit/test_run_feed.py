"""The scheduled run's change feed (#37), through the Lambda's real root over fakes, with the shipped
config/rules.yaml: what the run reads becomes booking events, and without NATS the run sends the
`events` rules' messages itself, once, under the keys the worker would use.

What the shipped rules do on each event: `created` of a confirmed booking sends the confirmation;
`cancelled` sends the cancellation; `updated` (a moved start, another service, pending → confirmed)
plans the confirmation again, and it goes out only if it never has: the confirmation is once per booking
(its window has no `from`), so a moved booking gets no second confirmation with its new time, only the
reminder for its new start (the reminder is once per start instant). `completed` answers no rule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from naver_sms.adapters.seen_bookings import BASELINE_KEY, seen_key
from naver_sms.application.errors import SentLogError
from naver_sms.application.notify import planned
from naver_sms.application.ports import Sighting
from naver_sms.bootstrap import lambda_image
from naver_sms.domain.booking import BookingStatus, booking_from_mapping
from naver_sms.domain.events import EventType
from naver_sms.domain.feed import Seen
from naver_sms.domain.messages import PlannedMessage
from tests.support.fakes import FakeSeenBookings, not_delivered
from tests.support.roots import unit_settings
from tests.support.shop import NO_EVENTS, NOW, RULES, Shop, baselined, events, record


def test_the_first_run_records_a_baseline_and_sends_no_events_message() -> None:
    shop = Shop(record(1), record(2, "cancelled"))
    result = shop.ran()
    assert result["feed"] == {"baseline": True, "events": NO_EVENTS, "recorded": 2}
    assert shop.sent() == [] and shop.seen.baseline()
    assert shop.seen.held("bk-1") is not None and shop.seen.held("bk-1").status is BookingStatus.CONFIRMED  # type: ignore[union-attr]
    # The claims listing (`make claims`) never shows the feed's records.
    assert asyncio.run(_listed(shop)) == []


async def _listed(shop: Shop) -> list[dict[str, Any]]:
    return [row async for row in shop.sent_log.unresolved()]


def test_a_new_booking_after_the_baseline_is_confirmed_once_across_reruns() -> None:
    shop = baselined(record(1))
    shop.books(record(2))
    result = shop.ran()
    assert result["feed"] == {"baseline": False, "events": events(created=1), "recorded": 1}
    assert (result["sent"], result["planned"]) == (1, 1)
    assert shop.sent() == [("confirmation", "bk-2")]
    for _ in range(2):
        again = shop.ran()
        assert again["feed"]["events"] == NO_EVENTS and again["planned"] == 0
    assert shop.sent() == [("confirmation", "bk-2")]


def test_a_cancellation_sends_the_cancellation_once() -> None:
    shop = baselined(record(1))
    shop.books(record(1, "cancelled"))
    result = shop.ran()
    assert result["feed"]["events"] == events(cancelled=1)
    assert shop.sent() == [("cancellation", "bk-1")]
    shop.ran()
    assert shop.sent() == [("cancellation", "bk-1")]


def test_a_moved_start_is_an_update_and_the_shipped_confirmation_is_not_sent_again() -> None:
    shop = baselined()
    shop.books(record(1))
    shop.ran()
    assert shop.sent() == [("confirmation", "bk-1")]
    shop.books(record(1, days=4))
    result = shop.ran()
    assert result["feed"]["events"] == events(updated=1)
    # The confirmation lists booking.updated, but is once per booking: the sent log answers duplicate.
    assert (result["planned"], result["sent"], result["skipped_duplicates"]) == (1, 0, 1)
    assert shop.sent() == [("confirmation", "bk-1")]
    assert shop.seen.held("bk-1").start == NOW + timedelta(days=4)  # type: ignore[union-attr]


def test_a_pending_booking_confirmed_later_gets_its_confirmation_then() -> None:
    shop = baselined()
    shop.books(record(1, "pending"))
    assert shop.ran()["feed"]["events"] == events(created=1)
    assert shop.sent() == []  # the confirmation is for confirmed bookings
    shop.books(record(1))
    assert shop.ran()["feed"]["events"] == events(updated=1)
    assert shop.sent() == [("confirmation", "bk-1")]


def test_a_booking_first_seen_after_its_start_derives_nothing() -> None:
    shop = baselined()
    shop.books(record(1, days=-2), record(2, "completed", days=-1))
    result = shop.ran()
    assert result["feed"] == {"baseline": False, "events": NO_EVENTS, "recorded": 2}
    assert shop.sent() == []


def test_a_run_killed_between_its_sends_and_its_record_derives_the_same_event_and_sends_nothing_twice() -> (
    None
):
    shop = baselined()
    shop.books(record(1))
    shop.killed_before_its_record()
    assert shop.sent() == [("confirmation", "bk-1")] and shop.seen.held("bk-1") is None
    result = shop.ran()
    assert result["feed"] == {"baseline": False, "events": events(created=1), "recorded": 1}
    assert (result["sent"], result["skipped_duplicates"]) == (0, 1)
    assert shop.sent() == [("confirmation", "bk-1")]


def test_a_message_to_try_again_leaves_its_booking_unrecorded_so_the_next_run_sends_it() -> None:
    shop = baselined(record(1))
    shop.books(record(2), record(1, "cancelled"))
    shop.transport.answer = not_delivered()
    first = shop.ran()
    assert [f["outcome"] for f in first["failed"]] == ["retry", "retry"]
    assert first["feed"]["recorded"] == 0
    shop.transport.answer = lambda m: f"req-{m.idempotency_key[:8]}"
    second = shop.ran()
    assert second["feed"] == {"baseline": False, "events": events(created=1, cancelled=1), "recorded": 2}
    assert second["sent"] == 2
    assert shop.ran()["feed"]["events"] == NO_EVENTS


def test_a_dry_run_plans_the_events_messages_and_records_nothing() -> None:
    empty = Shop(record(1))
    assert empty.ran(dry_run=True)["feed"] == {"baseline": True, "events": NO_EVENTS, "recorded": 0}
    assert empty.sent_log.records.items == {}  # not even the baseline
    shop = baselined()
    shop.books(record(1))
    before = dict(shop.sent_log.records.items)
    result = shop.ran(dry_run=True)
    assert result["feed"] == {"baseline": False, "events": events(created=1), "recorded": 0}
    assert (result["planned"], result["sent"]) == (1, 0) and shop.transport.sent == []
    assert shop.sent_log.records.items == before
    assert shop.ran()["sent"] == 1  # the real run that follows sends it


def test_the_volume_breaker_counts_the_events_messages_and_a_held_run_records_nothing() -> None:
    shop = baselined()
    shop.settings = unit_settings(SMS_MAX_PER_RUN="1")
    shop.books(record(1), record(2))
    held = shop.ran()
    assert held["status"] == "held" and held["held"]["by_rule"] == {"confirmation": 2}
    assert held["feed"]["recorded"] == 0 and shop.sent() == []
    shop.settings = unit_settings(SMS_MAX_PER_RUN="30")
    assert shop.ran()["sent"] == 2


def test_the_events_messages_go_before_the_scheduled_ones_and_the_deadline_defers_the_rest() -> None:
    shop = baselined(record(1))
    shop.now = NOW + timedelta(days=2.5)  # bk-1 is in its reminder window now
    shop.books(record(2, days=6))
    margin = lambda_image.deadline(shop.settings, lambda: 0.0).reserve_seconds
    left = iter([margin + 1, margin + 1, 0.0])  # the start's check, one send, then no time left
    result = asyncio.run(shop.run(time_left=lambda: next(left))(shop.now)).as_result()
    assert shop.sent() == [("confirmation", "bk-2")] and result["deferred"] == 1
    assert shop.seen.held("bk-2") is not None  # its one message was handed on
    shop.ran()
    assert shop.sent() == [("confirmation", "bk-2"), ("reminder", "bk-1")]


def test_the_event_plans_are_the_workers_for_the_same_event() -> None:
    """The worker's handler plans `Notifier.notify(booking, now, event.type)`: the same message, the same
    key, so whichever process sends it, the sent log knows it by one name."""
    shop = baselined()
    shop.books(record(1))
    shop.ran()
    (message,) = shop.transport.sent
    worker = planned(RULES, booking_from_mapping(record(1)), NOW, EventType.CREATED)
    assert [(p.rule, p.idempotency_key) for p in worker if isinstance(p, PlannedMessage)] == [
        (message.rule, message.idempotency_key)
    ]


def test_a_cancelled_booking_seen_cancelled_again_is_no_news() -> None:
    shop = baselined(record(1, "cancelled"))
    assert shop.ran()["feed"]["events"] == NO_EVENTS
    assert shop.sent() == []


def test_a_booking_of_the_baseline_moved_later_gets_its_first_confirmation() -> None:
    """The baseline sent nothing for it, so the update's confirmation is not a duplicate: the customer
    hears the new time once."""
    shop = baselined(record(1))
    shop.books(record(1, days=4))
    result = shop.ran()
    assert result["feed"]["events"] == events(updated=1)
    assert result["sent"] == 1
    assert shop.sent() == [("confirmation", "bk-1")]


def test_the_same_start_in_another_offset_is_no_news_and_is_compared_as_a_string_from_then_on() -> None:
    shop = baselined(record(1))
    kst = datetime.fromisoformat(record(1)["start"]).astimezone(timezone(timedelta(hours=9))).isoformat()
    shop.books(record(1, start=kst))
    result = shop.ran()
    assert result["feed"] == {"baseline": False, "events": NO_EVENTS, "recorded": 1} and shop.sent() == []
    assert shop.seen.held("bk-1").start.isoformat() == kst  # type: ignore[union-attr]
    assert shop.ran()["feed"]["recorded"] == 0


class FailingWrites(FakeSeenBookings):
    """The feed's store whose writes fail (DynamoDB throttled, a permission lost) while `failing`."""

    failing = False

    async def record(self, booking_id: str, seen: Seen, revision: str | None) -> bool:
        if self.failing:
            raise SentLogError("DynamoDB put_item on naver-sms-sent: ProvisionedThroughputExceededException")
        return await super().record(booking_id, seen, revision)


class UnreadableStore(FakeSeenBookings):
    async def read(self, unlike: Mapping[str, str]) -> dict[str, Sighting]:
        raise SentLogError("DynamoDB batch_get_item on naver-sms-sent: 3 keys still unprocessed")


def test_confirmed_then_cancelled_before_its_state_was_recorded_the_customer_still_hears_of_it() -> None:
    """The confirmation went out, the run was killed before recording what it saw, and the booking was
    cancelled before the next run: first seen cancelled, it is booking.cancelled, not a silent created."""
    shop = baselined()
    shop.books(record(1))
    shop.killed_before_its_record()
    shop.books(record(1, "cancelled"))
    assert shop.ran()["feed"]["events"] == events(cancelled=1)
    assert shop.sent() == [("confirmation", "bk-1"), ("cancellation", "bk-1")]


def test_a_store_write_that_failed_after_the_confirmation_still_lets_the_cancellation_go() -> None:
    shop = baselined()
    store = FailingWrites(shop.sent_log.records)
    shop.seen = store
    shop.books(record(1))
    store.failing = True
    assert shop.ran()["status"] == "ok" and shop.sent() == [("confirmation", "bk-1")]
    store.failing = False
    shop.books(record(1, "cancelled"))
    shop.ran()
    assert shop.sent() == [("confirmation", "bk-1"), ("cancellation", "bk-1")]


def test_a_booking_that_was_and_is_cancelled_is_no_news_whatever_else_moves() -> None:
    old = [record(n, "cancelled", days=2 + n / 10) for n in range(1, 6)]
    shop = baselined(*old)
    shop.books(record(1, "cancelled", days=4), *[{**r, "service": "커트 (남성)"} for r in old[1:]])
    result = shop.ran()
    assert result["feed"]["events"] == NO_EVENTS and result["feed"]["recorded"] == 5
    assert shop.sent() == []


def test_a_pending_request_the_shop_declines_is_told_of_it() -> None:
    """A decision, not an accident: pending → cancelled is booking.cancelled, and the requester hears
    that the booking will not happen (the shipped cancellation), as a customer whose booking stood does."""
    shop = baselined()
    shop.books(record(1, "pending"))
    shop.ran()
    shop.books(record(1, "cancelled"))
    assert shop.ran()["feed"]["events"] == events(cancelled=1)
    assert shop.sent() == [("cancellation", "bk-1")]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "seen", "state": "confirmed\x1f2026-11-27T09:00:00+00:00\x1f커트\x1fv2-extra"},  # newer
        {"kind": "seen-v2", "state": "whatever"},  # a kind this version does not know
        {"kind": "seen", "state": 7.0},  # a number where a string was
    ],
)
def test_a_record_no_reader_understands_is_recorded_anew_and_messages_nobody(
    fields: dict[str, object],
) -> None:
    shop = baselined(record(1))
    items = shop.sent_log.records.items
    _, revision = items[seen_key("bk-1")]
    items[seen_key("bk-1")] = (dict(fields), revision)  # type: ignore[arg-type]
    result = shop.ran()  # the API returns bk-1 as the baseline saw it
    assert result["feed"] == {"baseline": False, "events": NO_EVENTS, "recorded": 1} and shop.sent() == []
    assert shop.seen.held("bk-1") is not None


def test_a_lost_baseline_record_does_not_swallow_the_changes_made_since() -> None:
    shop = baselined(record(1), record(2))
    del shop.sent_log.records.items[BASELINE_KEY]  # the bookings' records are all still there
    shop.books(record(1, "cancelled"), record(3))
    result = shop.ran()
    assert result["feed"]["baseline"] is False and result["feed"]["events"] == events(created=1, cancelled=1)
    assert sorted(shop.sent()) == [("cancellation", "bk-1"), ("confirmation", "bk-3")]
    assert shop.seen.baseline()  # written again


def test_a_feed_store_that_cannot_be_read_says_so_and_the_reminders_still_go() -> None:
    shop = baselined(record(1))
    shop.seen = UnreadableStore(shop.sent_log.records)
    shop.now = NOW + timedelta(days=2.5)  # bk-1 in its reminder window
    result = shop.ran()
    assert shop.sent() == [("reminder", "bk-1")]
    assert result["status"] == "partial" and "unprocessed" in result["feed"]["error"]


def test_a_booking_listed_twice_in_one_read_is_planned_once_as_its_last_copy() -> None:
    shop = baselined(record(1, days=3))
    shop.now = NOW + timedelta(days=2.5)
    shop.source.records = [record(1, days=3), record(1, days=3.2)]  # the old copy, then the moved one
    shop.ran()
    assert [s for s in shop.sent() if s[0] == "reminder"] == [("reminder", "bk-1")]
    (reminder,) = [m for m in shop.transport.sent if m.rule == "reminder"]
    assert reminder.send_until is not None  # the moved start's: its window closes at that start
    assert reminder.send_until == datetime.fromisoformat(record(1, days=3.2)["start"])


def test_with_the_feed_off_the_lambda_derives_nothing_and_sends_no_events_rule() -> None:
    """EVENTS_MODE=off: a deployment whose worker has a publisher of its own keeps the events rules there."""
    shop = Shop(record(1))
    shop.settings = unit_settings(EVENTS_MODE="off")  # off wins over the store the test passes
    first = shop.ran()
    shop.books(record(2))
    again = shop.ran()
    assert "feed" not in first and "feed" not in again and shop.sent() == []
