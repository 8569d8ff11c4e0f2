"""The change feed with NATS (#37) over real parts: the Lambda's real root, with EVENTS_NATS_URL set,
publishes through the real NatsEventPublisher to a real nats-server, where the real worker process
consumes the events and sends the events rules through the fake SENS over HTTP; the Lambda sends the
scheduled rules to the same fake SENS. Only Naver (a fake booking source) and the Lambda's sent log
and feed store (in memory; DynamoDB's equal is proved by the contract suites) stand in.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg

from naver_sms.adapters.nats_events import NatsEventPublisher
from naver_sms.application.ports import Published
from naver_sms.bootstrap import lambda_image
from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.events import BookingEvent, EventType
from naver_sms.settings import Settings
from naver_sms.settings.rules import load_rules
from tests.support.fake_sens import FakeSens
from tests.support.fakes import FakeBookingSource, FakeSeenBookings, FakeSentLog
from tests.support.nats_server import NatsServer
from tests.support.procs import free_port, repo_env
from tests.support.roots import lambda_run, unit_settings
from tests.support.topology import WORKER
from tests.support.worker import WorkerProcess, stream_messages, wait_drained


def record(n: int, status: str = "confirmed", starts_in: timedelta = timedelta(days=3)) -> dict[str, Any]:
    return {
        "id": f"bk-{n}",
        "customer_name": f"손님{n}",
        "phone": f"010-5555-{n:04d}",
        "service": "커트",
        "start": (datetime.now(UTC) + starts_in).replace(microsecond=0).isoformat(),
        "status": status,
    }


class Lambda:
    """The Lambda's root over the shop's bookings, its own sent log and feed store kept across runs."""

    def __init__(self, settings: Settings, source: FakeBookingSource) -> None:
        self.settings = settings
        self.source = source
        self.sent_log = FakeSentLog()
        self.seen = FakeSeenBookings(self.sent_log.records)

    def run(self) -> dict[str, Any]:
        run = lambda_run(
            None,  # type: ignore[arg-type]  # the real SENS transport, from the settings
            self.sent_log,
            rules=load_rules(self.settings.rules_path),
            settings=self.settings,
            bookings=self.source,
            seen=self.seen,
            warm=lambda_image.Warm(),
        )
        return lambda_image.run_once(run, allow_sends=None).as_result()


@pytest.fixture
def worker(nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path) -> Iterator[WorkerProcess]:
    env = repo_env(NATS_URL=nats_server.url, SMS_DRY_RUN="false", **fake_sens.env())
    process = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        yield process
    finally:
        process.kill()


def test_the_lambda_publishes_and_the_worker_sends_each_rule_once_across_runs_and_a_restart(
    nats_server: NatsServer, fake_sens: FakeSens, worker: WorkerProcess
) -> None:
    source = FakeBookingSource([record(1, starts_in=timedelta(hours=5)), record(2)])
    shop = Lambda(unit_settings(EVENTS_NATS_URL=nats_server.url, **fake_sens.env()), source)
    first = shop.run()
    assert first["feed"]["baseline"] is True and first["sent"] == 1  # bk-1's reminder, the Lambda's
    source.records = [*source.records, record(3), record(2, "cancelled")]
    second = shop.run()
    assert (second["feed"]["published"], second["feed"]["unpublished"], second["sent"]) == (2, 0, 0)
    wait_drained(nats_server.url, 30, "the published events handled")
    worker.terminate()
    worker.start()  # a restarted worker redelivers nothing it settled
    for _ in range(2):
        again = shop.run()
        assert again["feed"]["published"] == 0 and again["sent"] == 0
    wait_drained(nats_server.url, 30)
    texts = [m["content"] for m in fake_sens.state.sent]
    recipients = Counter(m["messages"][0]["to"] for m in fake_sens.state.sent)
    assert recipients == Counter({"01055550001": 1, "01055550003": 1, "01055550002": 1})
    assert any("내일" in t for t in texts)  # the reminder
    assert any("확정" in t for t in texts) and any("취소" in t for t in texts)
    published = asyncio.run(stream_messages(nats_server.url, WORKER.stream, WORKER.subject))
    assert len(published) == 2


def event(n: int) -> BookingEvent:
    start = datetime.now(UTC) + timedelta(days=3)
    booking = Booking(f"bk-{n}", "손님", "01055550001", "커트", start, BookingStatus.CONFIRMED)
    return BookingEvent(f"feed-{n:040d}", EventType.CREATED, datetime.now(UTC), booking)


def publisher(url: str, subject: str = WORKER.subject) -> NatsEventPublisher:
    return NatsEventPublisher(
        lambda: {"servers": [url]}, subject, WORKER.stream, connect_seconds=2, publish_timeout_seconds=2
    )


def always() -> bool:
    return True


async def add_stream(
    url: str, name: str = WORKER.stream, subjects: tuple[str, ...] = (WORKER.subject,)
) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().add_stream(name=name, subjects=list(subjects), duplicate_window=600)
    finally:
        await nc.close()


def test_the_stream_keeps_one_copy_of_an_event_handed_on_twice(nats_server: NatsServer) -> None:
    asyncio.run(add_stream(nats_server.url))
    events = [event(1), event(2)]
    for _ in range(2):
        assert asyncio.run(publisher(nats_server.url).publish(events, go_on=always)) == Published(
            frozenset({"feed-" + "0" * 39 + "1", "feed-" + "0" * 39 + "2"})
        )
    stored = asyncio.run(stream_messages(nats_server.url, WORKER.stream, WORKER.subject))
    assert [m.headers["Nats-Msg-Id"] for m in stored] == [e.event_id for e in events]


def test_no_stream_on_the_subject_or_no_server_acknowledges_nothing_and_says_why(
    nats_server: NatsServer,
) -> None:
    no_stream = asyncio.run(publisher(nats_server.url).publish([event(1)], go_on=always))
    assert no_stream.acknowledged == frozenset() and "NoStreamResponseError" in (no_stream.error or "")
    nobody = asyncio.run(publisher(f"nats://127.0.0.1:{free_port()}").publish([event(1)], go_on=always))
    assert nobody.acknowledged == frozenset() and (nobody.error or "").startswith("NATS not reached")


@pytest.mark.parametrize(
    ("stream", "subjects", "subject"),
    [
        (WORKER.dlq_stream, (WORKER.dlq_subject,), WORKER.dlq_subject),  # EVENTS_SUBJECT=bookings.dlq
        ("AUDIT", ("bookings.>",), WORKER.subject),  # the worker's stream absent, another takes the subject
    ],
)
def test_a_stream_other_than_the_workers_taking_the_event_is_no_hand_off(
    nats_server: NatsServer, stream: str, subjects: tuple[str, ...], subject: str
) -> None:
    asyncio.run(add_stream(nats_server.url, stream, subjects))
    published = asyncio.run(publisher(nats_server.url, subject).publish([event(1)], go_on=always))
    assert published.acknowledged == frozenset() and "stream" in (published.error or "")


def test_a_responder_that_is_no_jetstream_is_an_error_in_the_answer(nats_server: NatsServer) -> None:
    async def scenario() -> Published:
        nc = await nats.connect(nats_server.url)

        async def answer(msg: Msg) -> None:
            await msg.respond(b"ok")

        await nc.subscribe(WORKER.subject, cb=answer)  # a service answering on the subject, no stream
        try:
            return await publisher(nats_server.url).publish([event(1)], go_on=always)
        finally:
            await nc.close()

    published = asyncio.run(scenario())
    assert published.acknowledged == frozenset() and "JSONDecodeError" in (published.error or "")


def test_publishing_stops_when_the_run_says_no_more_and_says_so(nats_server: NatsServer) -> None:
    asyncio.run(add_stream(nats_server.url))
    answers = iter([True, False])
    published = asyncio.run(
        publisher(nats_server.url).publish([event(1), event(2)], go_on=lambda: next(answers))
    )
    assert published.acknowledged == frozenset({event(1).event_id}) and "deadline" in (published.error or "")
