"""The change feed with NATS configured (#37): the Lambda's real root publishes each derived event to the
worker's stream (a FakePublisher standing in for JetStream, which drops a repeated event id) and sends
only the scheduled rules itself; the worker's real composition, with its own sent log, sends the events
rules' messages from that stream. And the move between the two modes, both ways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest

from naver_sms.application.ports import Published
from naver_sms.bootstrap import lambda_image
from naver_sms.bootstrap.worker_image import WorkerComposition
from naver_sms.domain.events import BookingEvent
from naver_sms.domain.feed import event_id
from naver_sms.settings.env import REGION_ENVS
from tests.support.fakes import FakePublisher, FakeSentLog
from tests.support.roots import unit_settings
from tests.support.shop import NOW, RULES, Shop, baselined, events, record


class Worker:
    """The worker's composition over its own sent log (its KV bucket) and the shop's SENS, handling each
    event of the stream once, in order, as its consumer would."""

    def __init__(self, shop: Shop, publisher: FakePublisher) -> None:
        self.publisher = publisher
        self.handled = 0
        self.sent_log = FakeSentLog()
        parts = WorkerComposition(
            unit_settings(), transport=shop.transport, sent_log=self.sent_log, rules=RULES, clock=lambda: 0.0
        )
        self.notifier = parts.notifier(None)
        self.shop = shop

    def consume(self) -> None:
        for event in self.publisher.stream[self.handled :]:
            asyncio.run(self.notifier.notify(event.booking, self.shop.now, event.type))
            self.handled += 1


def nats_mode(shop: Shop) -> tuple[FakePublisher, Worker]:
    shop.publisher = FakePublisher()
    return shop.publisher, Worker(shop, shop.publisher)


def test_with_nats_the_lambda_publishes_the_events_and_the_worker_sends_them_once() -> None:
    shop = baselined(record(1))
    publisher, worker = nats_mode(shop)
    shop.now = NOW + timedelta(days=2.5)  # bk-1 in its reminder window: the Lambda's own rule
    shop.books(record(2, days=6), record(3, "cancelled", days=5))
    result = shop.ran()
    # bk-3, booked and cancelled between two runs, is first seen cancelled: booking.cancelled.
    assert result["feed"] == {
        "baseline": False,
        "events": events(created=1, cancelled=1),
        "recorded": 2,
        "published": 2,
        "unpublished": 0,
    }
    assert shop.sent() == [("reminder", "bk-1")]  # the events rules are the worker's now
    worker.consume()
    assert shop.sent() == [("reminder", "bk-1"), ("confirmation", "bk-2"), ("cancellation", "bk-3")]
    for _ in range(2):
        again = shop.ran()
        assert again["feed"]["events"] == events() and again["feed"]["published"] == 0
        worker.consume()
    assert shop.sent() == [("reminder", "bk-1"), ("confirmation", "bk-2"), ("cancellation", "bk-3")]
    assert len(publisher.stream) == 2


def test_an_unacknowledged_publish_leaves_the_change_for_the_next_run() -> None:
    shop = baselined()
    publisher, worker = nats_mode(shop)
    shop.books(record(1), record(2), record(3))
    publisher.refuse_after = 1
    first = shop.ran()
    assert first["status"] == "partial"
    assert (first["feed"]["published"], first["feed"]["unpublished"], first["feed"]["recorded"]) == (1, 2, 1)
    assert "NoStreamResponseError" in first["feed"]["publish_error"]
    assert shop.seen.held("bk-1") is not None and shop.seen.held("bk-2") is None
    publisher.refuse_after = None
    second = shop.ran()
    assert (second["status"], second["feed"]["published"], second["feed"]["recorded"]) == ("ok", 2, 2)
    worker.consume()
    assert sorted(shop.sent()) == [
        ("confirmation", "bk-1"),
        ("confirmation", "bk-2"),
        ("confirmation", "bk-3"),
    ]


def test_a_run_killed_between_publish_and_record_publishes_the_same_event_id_and_it_is_one_sms() -> None:
    shop = baselined()
    publisher, worker = nats_mode(shop)
    shop.books(record(1))
    shop.killed_before_its_record()
    assert shop.ran()["feed"]["published"] == 1
    expected = event_id(publisher.stream[0].booking, publisher.stream[0].type)
    assert publisher.handed == [expected, expected]  # handed on twice, one event in the stream
    worker.consume()
    assert shop.sent() == [("confirmation", "bk-1")]


def test_a_dry_run_publishes_nothing_and_shows_the_events_messages() -> None:
    shop = baselined()
    publisher, _ = nats_mode(shop)
    shop.books(record(1))
    result = shop.ran(dry_run=True)
    assert publisher.handed == [] and "published" not in result["feed"]
    assert (result["planned"], result["sent"]) == (1, 0)


def test_a_held_run_publishes_nothing() -> None:
    shop = baselined()
    publisher, _ = nats_mode(shop)
    shop.settings = unit_settings(SMS_MAX_PER_RUN="1")
    shop.books(record(1), record(2))
    held = shop.ran()
    assert held["status"] == "held" and held["held"]["by_rule"] == {"confirmation": 2}
    assert publisher.handed == [] and shop.seen.held("bk-1") is None


def test_no_time_left_publishes_nothing_and_the_next_run_does() -> None:
    shop = baselined()
    publisher, _ = nats_mode(shop)
    shop.books(record(1))
    margin = lambda_image.deadline(shop.settings, lambda: 0.0).reserve_seconds
    left = iter([margin + 1, 0.0])  # the start's check, then no time left
    result = asyncio.run(shop.run(time_left=lambda: next(left, 0.0))(shop.now)).as_result()
    assert result["feed"]["unpublished"] == 1 and publisher.handed == []
    assert shop.ran()["feed"]["published"] == 1


def test_moving_to_nats_the_worker_never_repeats_what_the_lambda_sent() -> None:
    """Before the move the Lambda sent bk-1's confirmation (its own sent log knows it); the worker's sent
    log does not. bk-1 moved after the move plans that confirmation again: the Lambda does not publish
    an event all of whose messages it sent, so the worker cannot repeat it. bk-1's cancellation later is
    news to both, and is the worker's."""
    shop = baselined()
    shop.books(record(1))
    shop.ran()
    assert shop.sent() == [("confirmation", "bk-1")]
    publisher, worker = nats_mode(shop)
    shop.books(record(1, days=4))
    moved = shop.ran()
    assert moved["feed"]["events"] == events(updated=1)
    assert (moved["feed"]["published"], moved["feed"]["sent_here"], moved["feed"]["recorded"]) == (0, 1, 1)
    shop.books(record(1, "cancelled", days=4))
    assert shop.ran()["feed"]["published"] == 1 and len(publisher.stream) == 1
    worker.consume()
    assert shop.sent() == [("confirmation", "bk-1"), ("cancellation", "bk-1")]


def test_moving_back_from_nats_the_lambda_sends_the_events_rules_again_from_its_next_run() -> None:
    """What changes (docs/architecture.md, "Moving between the modes"): events derived before the move
    were the worker's, every later one is the Lambda's; the Lambda cannot read the worker's sent log,
    so a booking the worker confirmed whose per-booking message is planned again (a moved start: the
    confirmation lists booking.updated) gets it once more from the Lambda. Nothing is lost."""
    shop = baselined()
    publisher, worker = nats_mode(shop)
    shop.books(record(1))
    shop.ran()
    worker.consume()
    assert shop.sent() == [("confirmation", "bk-1")]
    shop.publisher = None  # EVENTS_NATS_URL emptied
    shop.books(record(2))
    assert shop.ran()["sent"] == 1
    shop.books(record(1, days=4))
    moved = shop.ran()
    assert moved["sent"] == 1 and "published" not in moved["feed"]
    assert shop.sent() == [("confirmation", "bk-1"), ("confirmation", "bk-2"), ("confirmation", "bk-1")]
    assert len(publisher.stream) == 1


def test_acknowledged_then_killed_before_its_record_then_cancelled_publishes_the_cancellation() -> None:
    shop = baselined()
    publisher, worker = nats_mode(shop)
    shop.books(record(1))
    shop.killed_before_its_record()
    shop.books(record(1, "cancelled"))
    shop.ran()
    assert [e.type.value for e in publisher.stream] == ["booking.created", "booking.cancelled"]
    worker.consume()
    assert shop.sent() == [("confirmation", "bk-1"), ("cancellation", "bk-1")]


def test_a_nats_secret_that_cannot_be_read_fails_the_publish_not_the_reminders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The credential is a secret reference read at each publish (here none can be read: no region): the
    run's reminders go, its events wait for the next run, and the result says why."""
    for name in REGION_ENVS:
        monkeypatch.delenv(name, raising=False)
    shop = baselined(record(1))
    shop.settings = unit_settings(
        EVENTS_NATS_URL="nats://127.0.0.1:1", EVENTS_NATS_TOKEN="secretsmanager:naver-sms/nats#token"
    )
    shop.now = NOW + timedelta(days=2.5)  # bk-1 in its reminder window
    shop.books(record(2, days=6))
    result = shop.ran()
    assert shop.sent() == [("reminder", "bk-1")]
    assert (result["status"], result["feed"]["unpublished"], result["feed"]["recorded"]) == ("partial", 1, 0)
    assert result["feed"]["publish_error"].startswith("NATS credentials not read: SecretUnavailable")


class SlowStream(FakePublisher):
    """Each acknowledgement takes `seconds` of the run's time (a stream under load, a far cluster)."""

    def __init__(self, clock: list[float], seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds

    async def publish(self, events: Sequence[BookingEvent], *, go_on: Callable[[], bool]) -> Published:
        def paced() -> bool:
            if not go_on():
                return False
            self.clock[0] += self.seconds
            return True

        return await super().publish(events, go_on=paced)


def test_a_backlog_published_slowly_stops_while_the_run_has_time_and_the_rest_waits() -> None:
    shop = baselined()
    clock = [0.0]
    shop.publisher = SlowStream(clock, seconds=4.9)
    shop.books(*[record(n, days=3 + n / 100) for n in range(1, 21)])  # 20 new bookings
    reserve = lambda_image.deadline(shop.settings, lambda: 0.0).reserve_seconds
    kill = reserve + 20  # time for a few acknowledgements, not for 20

    result = asyncio.run(shop.run(time_left=lambda: kill - clock[0])(shop.now)).as_result()
    assert kill - clock[0] > 0  # the run ended before Lambda would kill it
    published = result["feed"]["published"]
    assert 0 < published < 20 and result["feed"]["unpublished"] == 20 - published
    assert result["feed"]["recorded"] == published
    clock[0] = 0.0
    assert shop.ran()["feed"]["published"] == 20 - published  # the rest, next run
