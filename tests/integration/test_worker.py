"""The worker as a real subprocess against a real nats-server and the fake SENS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import nats
import nkeys
import pytest
from prometheus_client.parser import text_string_to_metric_families

from naver_sms.adapters.nats_sent_log import nats_sent_log
from naver_sms.application.errors import SentLogError
from naver_sms.bootstrap.worker_image import WorkerComposition
from naver_sms.domain.booking import booking_from_mapping
from naver_sms.domain.events import EventType
from naver_sms.domain.messages import PlannedMessage
from naver_sms.settings.rules import load_rules
from tests.support.fake_sens import SECRET_KEY, FakeSens
from tests.support.fakes import FakeSentLog, FakeTransport, unknown
from tests.support.nats_server import NatsServer
from tests.support.procs import REPO, repo_env, wait_until
from tests.support.roots import unit_settings
from tests.support.topology import WORKER
from tests.support.worker import (
    WorkerProcess,
    booking_event,
    consumer_deliveries,
    publish,
    run,
    stream_messages,
    wait_drained,
)


@pytest.fixture
def worker_env(nats_server: NatsServer, fake_sens: FakeSens) -> dict[str, str]:
    # A short ack wait and claim lease make redelivery and stale claims quick to observe; one send
    # (1 s x 3 attempts plus two 2 s waits = 7 s at worst) must fit inside both.
    return repo_env(
        NATS_URL=nats_server.url,
        SMS_DRY_RUN="false",
        NAK_DELAY_SECONDS="1",
        ACK_WAIT_SECONDS="10",
        CLAIM_LEASE_SECONDS="8",
        SENS_TIMEOUT_SECONDS="1",
        # The send ceiling has tests of its own (below); the others send hundreds of SMS in seconds.
        WORKER_MAX_SENDS_PER_MINUTE="100000",
        **fake_sens.env(),
    )


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(worker_env, tmp_path / "worker.log").start()
    yield process
    process.kill()


def events(numbers: range) -> list[bytes]:
    return [json.dumps(booking_event(n)).encode() for n in numbers]


def wait_for_sends(sens: FakeSens, count: int, timeout: float = 60) -> None:
    wait_until(lambda: len(sens.state.sent) >= count, timeout, f"{count} SMS at the fake SENS")


def test_event_to_sms_with_records_dlq_and_json_logs(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    malformed = [b"not json", json.dumps({"event_id": "x", "type": "booking.created"}).encode()]
    run(publish(nats_server.url, events(range(1, 4)) + malformed))
    wait_for_sends(fake_sens, 3)
    wait_drained(nats_server.url, 20, "all messages acked or terminated")
    assert fake_sens.state.rejected_signatures == 0
    assert sorted(m["messages"][0]["to"] for m in fake_sens.state.sent) == [
        "01000000001",
        "01000000002",
        "01000000003",
    ]
    sent = run(stream_messages(nats_server.url, WORKER.notifications_stream, WORKER.sent_subject))
    assert len(sent) == 3
    assert all(m.headers["Nats-Msg-Id"] == json.loads(m.data)["idempotency_key"] for m in sent)
    dlq = run(stream_messages(nats_server.url, WORKER.dlq_stream, WORKER.dlq_subject))
    assert [m.data for m in dlq] == malformed
    assert "not JSON" in dlq[0].headers["Dead-Letter-Reason"]
    assert "event.occurred_at" in dlq[1].headers["Dead-Letter-Reason"]
    code, _ = worker.terminate()
    assert code == 0
    logs = worker.logs()
    assert logs and all({"timestamp", "level", "logger", "message"} <= line.keys() for line in logs)
    summary = next(line for line in logs if line["message"] == "worker stopped")
    assert (summary["sent"], summary["dead_lettered"]) == (3, 2)


def test_a_clean_stop_after_busy_sends_interrupts_nothing(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    """Every handler has sent, then idles: a stop then has nothing in progress to interrupt."""
    fake_sens.state.delay_seconds = 0.05
    run(publish(nats_server.url, events(range(1, 101))))
    wait_for_sends(fake_sens, 100)
    wait_drained(nats_server.url, 20)
    code, _ = worker.terminate()
    assert code == 0
    messages = [line["message"] for line in worker.logs()]
    assert "worker stopped" in messages and "stop interrupted events in progress" not in messages


def test_a_refused_pull_is_retried_after_a_pause_not_in_a_loop(
    worker: WorkerProcess, nats_server: NatsServer
) -> None:
    """With its consumer deleted under it, the worker says so and pulls again twice a second, instead
    of flooding the server and its log."""

    async def delete_consumer() -> None:
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().delete_consumer(WORKER.stream, WORKER.durable)
        await nc.close()

    run(delete_consumer())
    time.sleep(3)
    worker.terminate()
    retries = [line for line in worker.logs() if line["message"] == "pull failed; retrying"]
    assert 2 <= len(retries) <= 8
    assert all(line["error_type"] == "PullRefused" for line in retries)


def test_concurrency_bounds_the_sends_at_once_and_keeps_them_all_busy(
    worker_env: dict[str, str], nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path
) -> None:
    """Twice as many events as send slots are in progress: never more than WORKER_CONCURRENCY requests
    at the SMS API, and that many while events wait."""
    fake_sens.state.delay_seconds = 0.2
    worker = WorkerProcess({**worker_env, "WORKER_CONCURRENCY": "4"}, tmp_path / "worker.log").start()
    try:
        run(publish(nats_server.url, events(range(1, 41))))
        wait_for_sends(fake_sens, 40)
        wait_drained(nats_server.url, 20)
    finally:
        worker.terminate()
    assert fake_sens.state.most_in_flight == 4
    assert set(fake_sens.state.per_recipient().values()) == {1}


def test_replayed_event_is_not_sent_twice(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    run(publish(nats_server.url, events(range(1, 2)) * 3))
    wait_drained(nats_server.url, 20, "all acked")
    assert len(fake_sens.state.sent) == 1
    summary_code, _ = worker.terminate()
    assert summary_code == 0
    assert next(line for line in worker.logs() if line["message"] == "worker stopped")["duplicates"] == 2


def records(url: str, subject: str) -> list[dict[str, Any]]:
    return [json.loads(m.data) for m in run(stream_messages(url, WORKER.notifications_stream, subject))]


@pytest.mark.parametrize("trouble", ["slow", "5xx", "hang-up"])
def test_a_send_that_may_have_gone_out_is_recorded_unknown_and_never_resent(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens, trouble: str
) -> None:
    if trouble == "slow":  # answers after the client's 1 s timeout, having accepted the SMS
        fake_sens.state.delay_seconds = 1.5
    elif trouble == "5xx":
        fake_sens.state.fail_next = 100
    else:
        fake_sens.state.drop_next = 100
    run(publish(nats_server.url, events(range(1, 2))))
    wait_drained(nats_server.url, 30, "the event acked")
    time.sleep(2)  # a redelivery or retry would arrive within this
    assert fake_sens.state.received == 1
    (failed,) = records(nats_server.url, WORKER.failed_subject)
    assert (
        failed["outcome"] == "unknown" and failed["booking_id"] == "bk-1" and failed["rule"] == "confirmation"
    )
    assert failed["event_id"] == "ev-1" and len(failed["idempotency_key"]) == 40
    assert records(nats_server.url, WORKER.sent_subject) == []
    assert worker.terminate()[0] == 0
    assert next(line for line in worker.logs() if line["message"] == "worker stopped")["unknown"] == 1


@contextlib.asynccontextmanager
async def worker_sent_log(
    url: str, event: dict[str, Any], owner: str
) -> AsyncIterator[tuple[Any, PlannedMessage]]:
    """The sent log as a worker that handled `event` left it, and the message the event plans."""
    rules = load_rules(REPO / "config" / "rules.yaml")
    booking = booking_from_mapping(event["booking"])
    (rule,) = rules.applicable(booking, datetime.now(UTC), EventType(event["type"]))
    message = rule.render(booking, rules.timezone)
    nc = await nats.connect(url)
    try:
        yield nats_sent_log(await nc.jetstream().key_value(WORKER.dedupe_bucket), owner), message
    finally:
        await nc.close()


async def mark_sent_as_by_a_worker_that_died_before_recording(url: str, event: dict[str, Any]) -> str:
    async with worker_sent_log(url, event, "worker:dead:1") as (store, message):
        await store.claim(message, time.time())
        await store.confirm(message, "req-before-the-crash")
    return message.idempotency_key


def test_a_duplicate_of_a_sent_message_republishes_its_sent_record(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    event = booking_event(1)
    key = run(mark_sent_as_by_a_worker_that_died_before_recording(nats_server.url, event))
    run(publish(nats_server.url, [json.dumps(event).encode()]))
    wait_drained(nats_server.url, 20, "the event acked")
    assert fake_sens.state.received == 0
    (sent,) = records(nats_server.url, WORKER.sent_subject)
    assert (sent["idempotency_key"], sent["outcome"], sent["provider_id"]) == (
        key,
        "duplicate",
        "req-before-the-crash",
    )


async def mark_unknown_as_by_a_worker_whose_record_was_lost(url: str, event: dict[str, Any]) -> str:
    """The state a worker leaves when its mark was stored and its publish to the failed subject timed out."""
    async with worker_sent_log(url, event, "worker:lost:1") as (store, message):
        claim, _ = await store.claim(message, time.time())
        assert await store.mark_unknown(message, claim, "SENS answered HTTP 503")
    return message.idempotency_key


def test_an_unknown_whose_record_was_lost_is_recorded_when_its_event_comes_back(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    event = booking_event(1)
    key = run(mark_unknown_as_by_a_worker_whose_record_was_lost(nats_server.url, event))
    for _ in range(2):  # the redelivery, and a replay: one record, deduplicated by Nats-Msg-Id
        run(publish(nats_server.url, [json.dumps(event).encode()]))
        wait_drained(nats_server.url, 20, "the event acked")
    assert fake_sens.state.received == 0, "an unknown is never resent"
    (failed,) = records(nats_server.url, WORKER.failed_subject)
    assert (failed["idempotency_key"], failed["outcome"], failed["booking_id"]) == (key, "unknown", "bk-1")
    # Its mark's report was still pending (the record was lost): reported now, once; the replay finds
    # it reported, and its record (the same Nats-Msg-Id) is deduplicated.
    assert "never reported until now" in failed["reason"]
    assert worker.terminate()[0] == 0
    stopped = next(line for line in worker.logs() if line["message"] == "worker stopped")
    assert (stopped["unknown"], stopped["still_unknown"]) == (1, 1)


async def claim_as_by_a_worker_that_died_mid_send(url: str, event: dict[str, Any]) -> str:
    async with worker_sent_log(url, event, "worker:dead:2") as (store, message):
        await store.claim(message, time.time())
    return message.idempotency_key


class NotedNever(FakeSentLog):
    """A sent log whose note that an unknown was reported times out (a JetStream KV timeout)."""

    async def reported(self, key: str) -> None:
        raise SentLogError("JetStream KV: TimeoutError: nats: timeout")


@dataclass
class HeldEvent:
    """One JetStream delivery as the handler sees it: its data, metadata, and how it was settled."""

    data: bytes
    delivered: int
    subject: str = WORKER.subject
    settled: list[str] = field(default_factory=list)

    @property
    def reply(self) -> str:
        """Its ack subject, where JetStream's metadata is: stream, consumer, deliveries, sequences, …"""
        return f"$JS.ACK.{WORKER.stream}.{WORKER.durable}.{self.delivered}.1.1.1700000000000000000.0"

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")

    async def in_progress(self) -> None:
        pass


@dataclass
class Published:
    subjects: list[str] = field(default_factory=list)

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.subjects.append(subject)


def test_a_sent_log_that_fails_to_note_an_unknown_reported_does_not_dead_letter_its_recorded_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker root's handler in process, over fakes: the unknown's record is out when the note times
    out, so the event is handled (acked, even on its last delivery), not failed and dead-lettered."""
    js, msg = Published(), HeldEvent(json.dumps(booking_event(1)).encode(), delivered=1)
    parts = WorkerComposition(unit_settings(), transport=FakeTransport(unknown), sent_log=NotedNever())
    handler = parts.handler(js, None, max_deliver=1, max_payload=1 << 20)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="naver_sms.worker"):
        run(handler.handle(msg))  # type: ignore[arg-type]
    assert (js.subjects, msg.settled) == ([WORKER.failed_subject], ["ack"])
    assert any("may be reported again" in r.getMessage() for r in caplog.records)


def test_a_dead_workers_claim_is_reported_even_when_its_lease_outlasts_the_quick_redeliveries(
    worker_env: dict[str, str], nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path
) -> None:
    # Three deliveries 1 s apart end 2 s in, long before the 8 s lease: before the fix the last one
    # found the claim still live, acked with "gave up", and the claim was never reported.
    env = {**worker_env, "MAX_DELIVER": "3"}
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        event = booking_event(1)
        key = run(claim_as_by_a_worker_that_died_mid_send(nats_server.url, event))
        started = time.monotonic()
        run(publish(nats_server.url, [json.dumps(event).encode()]))
        wait_drained(nats_server.url, 30, "the event acked")
        assert time.monotonic() - started >= 7, "the last delivery came before the lease ended"
    finally:
        worker.terminate()
    assert fake_sens.state.received == 0, "a claim that may have gone out is never resent"
    (failed,) = records(nats_server.url, WORKER.failed_subject)
    assert (failed["idempotency_key"], failed["outcome"]) == (key, "unknown")
    assert "worker:dead:2" in failed["reason"] and "gave up" not in failed["reason"]


def test_rate_limited_sends_are_retried_and_sent_once(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    # Six 429s: two events' worth of three attempts each; known not sent, so the event is redelivered.
    fake_sens.state.fail_next, fake_sens.state.fail_status, fake_sens.state.retry_after = 6, 429, ("0",)
    run(publish(nats_server.url, events(range(1, 3))))
    wait_for_sends(fake_sens, 2, timeout=30)
    wait_drained(nats_server.url, 20, "all acked")
    assert set(fake_sens.state.per_recipient().values()) == {1}
    assert len(records(nats_server.url, WORKER.sent_subject)) == 2
    assert records(nats_server.url, WORKER.failed_subject) == []


def test_a_sens_key_rotated_under_a_running_worker_is_used_for_the_events_redelivery(
    worker_env: dict[str, str], aws: str, nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path
) -> None:
    """SENS refuses the key the worker read (401): the event is nak'ed, not acked with a failed record,
    and once the secret is rotated its redelivery is signed with the new key. No restart."""
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="naver-sms/sens", SecretString=json.dumps({"secret_key": "before-rotation"}))
    env = {
        **worker_env,
        "AWS_ENDPOINT_URL": aws,
        "SENS_SECRET_KEY": "secretsmanager:naver-sms/sens#secret_key",
    }
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        run(publish(nats_server.url, events(range(1, 2))))
        wait_until(lambda: fake_sens.state.rejected_signatures >= 1, 20, "SENS refusing the old key")
        secrets.put_secret_value(
            SecretId="naver-sms/sens", SecretString=json.dumps({"secret_key": SECRET_KEY})
        )
        wait_for_sends(fake_sens, 1, timeout=30)
        wait_drained(nats_server.url, 20, "the event acked")
    finally:
        worker.terminate()
    assert set(fake_sens.state.per_recipient().values()) == {1}
    assert len(records(nats_server.url, WORKER.sent_subject)) == 1
    assert records(nats_server.url, WORKER.failed_subject) == [], "nothing given up during the rotation"
    retried = [line for line in worker.logs() if line["message"] == "event will be retried"]
    assert retried and all(line["outcomes"] == ["retry"] for line in retried)


def test_sens_unreachable_until_the_last_delivery_leaves_a_failed_record(
    worker_env: dict[str, str], nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path
) -> None:
    fake_sens.vanish()  # connections refused: known not sent, so every delivery may try again
    env = {**worker_env, "MAX_DELIVER": "3", "SENS_MAX_ATTEMPTS": "1"}
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        run(publish(nats_server.url, events(range(1, 2))))
        wait_drained(nats_server.url, 30, "the event given up after its last delivery")
    finally:
        worker.terminate()
    (failed,) = records(nats_server.url, WORKER.failed_subject)
    assert failed["outcome"] == "retry" and failed["booking_id"] == "bk-1"
    assert "cannot connect to SENS" in failed["reason"] and "gave up after 3 deliveries" in failed["reason"]


def test_kill_9_mid_stream_every_booking_gets_one_sms_or_an_unknown_record(
    worker: WorkerProcess,
    worker_env: dict[str, str],
    nats_server: NatsServer,
    fake_sens: FakeSens,
    tmp_path: Path,
) -> None:
    total = 200
    fake_sens.state.delay_seconds = 0.2  # sends are in flight when the kill lands
    run(publish(nats_server.url, events(range(1, total + 1))))
    wait_for_sends(fake_sens, 40)
    worker.kill()
    restarted = WorkerProcess(worker_env, tmp_path / "worker2.log").start()
    try:
        # Redeliveries wait out the ack wait (10 s), and claims in flight at the kill their lease (8 s).
        wait_drained(nats_server.url, 120, "every event handled after the restart")
    finally:
        restarted.terminate()
    sms = fake_sens.state.per_recipient()
    assert set(sms.values()) == {1}, "a booking got two SMS"
    texted = {to_booking(key) for key in sms}
    sent = {r["booking_id"] for r in records(nats_server.url, WORKER.sent_subject)}
    unknown = {
        r["booking_id"] for r in records(nats_server.url, WORKER.failed_subject) if r["outcome"] == "unknown"
    }
    assert unknown, "the kill hit no send in flight; the test proves nothing"
    everyone = {f"bk-{n}" for n in range(1, total + 1)}
    assert sent | unknown == everyone, "a booking ended with no record"
    assert texted <= sent | unknown, "an SMS went out with no record"
    assert sent <= texted, "a sent record without an SMS"


def to_booking(per_recipient_key: str) -> str:
    phone = per_recipient_key.split("|", 1)[0]
    return f"bk-{int(phone.removeprefix('010'))}"


def test_a_dry_run_burst_logs_a_bounded_number_of_lines_and_counts_every_decision(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    """At 100 lines a second, 3,000 events decided in about a second write a few hundred "would send"
    lines; the periodic report counts the rest, so lines plus counts add up to every event."""
    env = repo_env(NATS_URL=nats_server.url, SMS_DRY_RUN="true")
    WorkerProcess(env, tmp_path / "first.log").start().terminate()  # creates the stream
    run(publish(nats_server.url, events(range(3000))))
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_drained(nats_server.url, 60, "every event decided")
        wait_until(
            lambda: any(
                line["message"] == "dry run: decisions not logged one by one" for line in worker.logs()
            ),
            10,
            "the periodic report of decisions not logged, while the worker runs",
        )
    finally:
        code, _ = worker.terminate()
    assert code == 0
    lines = worker.logs()
    decided = [line for line in lines if line["message"] == "dry run: would send"]
    counted = [line for line in lines if line["message"] == "dry run: decisions not logged one by one"]
    (stopped,) = [line for line in lines if line["message"] == "worker stopped"]
    assert stopped["dry_run"] == stopped["processed"] == 3000
    assert 100 <= len(decided) < 3000
    assert len(decided) + sum(line["not_logged"] for line in counted) == 3000
    assert {line["logged_per_second"] for line in counted} == {100}


def test_health_follows_the_connection(worker: WorkerProcess, nats_server: NatsServer) -> None:
    assert worker.health() == 200
    nats_server.stop()
    wait_until(lambda: worker.health() == 503, 10, "health 503 while NATS is down")
    nats_server.start()
    wait_until(lambda: worker.health() == 200, 20, "health 200 after reconnect")


def test_2000_events_sigterm_midstream_then_restart_exactly_once(
    worker: WorkerProcess,
    worker_env: dict[str, str],
    nats_server: NatsServer,
    fake_sens: FakeSens,
    tmp_path: Path,
) -> None:
    valid = events(range(1, 2001))
    malformed = [f"broken-{n}".encode() for n in range(20)]
    payloads = valid[:1000] + malformed[:10] + valid[1000:] + malformed[10:]
    run(publish(nats_server.url, payloads))
    wait_for_sends(fake_sens, 300)
    code, seconds = worker.terminate()
    assert code == 0 and seconds < 10
    at_stop = len(fake_sens.state.sent)
    assert at_stop < 2000, "the worker finished before SIGTERM; the test proves nothing"
    restarted = WorkerProcess(worker_env, tmp_path / "worker2.log").start()
    try:
        wait_for_sends(fake_sens, 2000, timeout=120)
        wait_drained(nats_server.url, 30, "all acked")
        time.sleep(1)  # nothing more arrives late
    finally:
        restarted.terminate()
    counts = fake_sens.state.per_recipient()
    assert len(counts) == 2000 and set(counts.values()) == {1}
    assert len(run(stream_messages(nats_server.url, WORKER.dlq_stream, WORKER.dlq_subject))) == 20


def test_nats_restart_midstream_loses_nothing(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    run(publish(nats_server.url, events(range(1, 801))))
    wait_for_sends(fake_sens, 100)
    nats_server.restart()
    wait_for_sends(fake_sens, 800, timeout=120)
    wait_drained(nats_server.url, 60, "all acked")
    counts = fake_sens.state.per_recipient()
    assert len(counts) == 800 and set(counts.values()) == {1}
    assert worker.terminate()[0] == 0


def test_nats_frozen_midstream_every_event_is_sent_exactly_once(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    """A cluster moving a leader, in one server: no answers for longer than the client waits (5 s), then
    the server stores what it got meanwhile, claims included. Each such claim is its writer's to send."""
    run(publish(nats_server.url, events(range(1, 801))))
    wait_for_sends(fake_sens, 100)
    with nats_server.frozen():
        time.sleep(7)
    assert len(fake_sens.state.sent) < 800, "the stream drained before the freeze; the test proves nothing"
    wait_for_sends(fake_sens, 800, timeout=120)
    wait_drained(nats_server.url, 60, "all acked")
    counts = fake_sens.state.per_recipient()
    assert len(counts) == 800 and set(counts.values()) == {1}
    assert worker.terminate()[0] == 0
    stopped = next(line for line in worker.logs() if line["message"] == "worker stopped")
    assert (stopped["sent"], stopped["unknown"]) == (800, 0), stopped


def test_sigterm_with_a_send_stuck_on_the_sms_api(
    worker_env: dict[str, str],
    nats_server: NatsServer,
    fake_sens: FakeSens,
    tmp_path: Path,
) -> None:
    """A send blocked on the SMS API must not hold the worker past Docker's grace, nor be sent twice:
    after the restart its claim runs out its lease and is reported unknown."""
    slow_api_env = {
        **worker_env,
        "ACK_WAIT_SECONDS": "30",
        "SENS_TIMEOUT_SECONDS": "8",
        "SENS_MAX_ATTEMPTS": "1",
        "CLAIM_LEASE_SECONDS": "10",
    }
    worker = WorkerProcess(slow_api_env, tmp_path / "worker.log").start()
    fake_sens.state.delay_seconds = 20
    try:
        run(publish(nats_server.url, events(range(1, 2))))
        wait_until(lambda: fake_sens.state.received >= 1, 10, "the send to reach the SMS API")
        code, seconds = worker.terminate()
    finally:
        worker.kill()
    assert code == 0 and seconds < 10
    (interrupted,) = [
        line for line in worker.logs() if line["message"] == "stop interrupted events in progress"
    ]
    assert interrupted["interrupted"] == 1
    fake_sens.state.delay_seconds = 0
    restarted = WorkerProcess(slow_api_env, tmp_path / "worker2.log").start()
    try:
        wait_drained(nats_server.url, 30, "the redelivered event handled")
    finally:
        restarted.terminate()
    assert fake_sens.state.received == 1  # the redelivery found the claim: no second request
    (failed,) = records(nats_server.url, WORKER.failed_subject)
    assert failed["outcome"] == "unknown" and "never confirmed" in failed["reason"]


def padded(event: dict[str, Any], size: int) -> bytes:
    bare = len(json.dumps({**event, "padding": ""}).encode())
    return json.dumps({**event, "padding": "x" * (size - bare)}).encode()


def hostile_events() -> dict[str, bytes]:
    good = booking_event(1)
    return {
        "huge": padded(
            good, 1024 * 1024 - 100
        ),  # fits the server's max_payload; with DLQ headers it would not
        "nested": b"[" * 30_000 + b"]" * 30_000,
        "deep-but-parsable": json.dumps({**good, "x": json.loads("[" * 500 + "]" * 500)}).encode(),
        "overflow-date": json.dumps({**good, "occurred_at": "9999-12-31T23:59:59-12:00"}).encode(),
        "overflow-start": json.dumps(
            {**good, "booking": {**good["booking"], "start": "9999-12-31T23:59:59-12:00"}}
        ).encode(),
        "not-utf8": b'{"event_id": "\xff\xfe"}',
        "wrong-types": json.dumps({**good, "event_id": ["a"], "booking": "b"}).encode(),
        "phone-in-reason": json.dumps(
            {**good, "booking": {**good["booking"], "phone": "010-9876-5432 ext"}}
        ).encode(),
    }


def test_hostile_events_are_dead_lettered_on_first_delivery_and_the_worker_goes_on(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    hostile = hostile_events()
    run(publish(nats_server.url, [*hostile.values(), *events(range(2, 3))]))
    wait_for_sends(fake_sens, 1)
    wait_drained(nats_server.url, 30, "every event acked or terminated")
    assert worker.health() == 200
    dlq = run(stream_messages(nats_server.url, WORKER.dlq_stream, WORKER.dlq_subject))
    assert len(dlq) == len(hostile)
    by_sequence = {m.headers["Original-Sequence"]: m for m in dlq}
    huge = by_sequence["1"]
    assert huge.headers["Dead-Letter-Payload"] == "reference"
    reference = json.loads(huge.data)
    assert reference["size"] == len(hostile["huge"]) and len(reference["sha256"]) == 64
    assert "WORKER_MAX_EVENT_BYTES" in huge.headers["Dead-Letter-Reason"]
    assert "depth limit exceeded" in by_sequence["2"].headers["Dead-Letter-Reason"]
    assert "nested deeper than 32" in by_sequence["3"].headers["Dead-Letter-Reason"]
    for message in dlq:
        assert "9876" not in message.headers["Dead-Letter-Reason"]
    logs = worker.log_path.read_text()
    assert "9876-5432" not in logs and "98765432" not in logs
    assert max(len(line) for line in logs.splitlines()) < 20_000


def start_bare(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """The worker process without waiting for health: for states where it never becomes healthy."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "src"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_while_nats_is_unreachable_stops_at_once(tmp_path: Path) -> None:
    env = repo_env(NATS_URL=f"nats://127.0.0.1:{closed_port()}", HEALTH_PORT="0")
    process = start_bare(env, tmp_path / "worker.log")
    time.sleep(2)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    assert time.monotonic() - started < 7
    assert "stopped while connecting to NATS" in (tmp_path / "worker.log").read_text()


def nkey_user() -> tuple[str, str]:
    """A fresh user NKey: (seed, public key)."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    return seed.decode(), nkeys.from_seed(bytearray(seed)).public_key.decode()


@pytest.mark.parametrize("auth", ["user", "token", "nkey"])
def test_nats_credentials_work_and_never_reach_a_log(tmp_path: Path, fake_sens: FakeSens, auth: str) -> None:
    seed, public = nkey_user()
    config = tmp_path / "nkey.conf"
    config.write_text(f'authorization {{ users = [ {{ nkey: "{public}" }} ] }}\n')
    flags = {
        "user": ("--user", "sms-worker", "--pass", "pw-Planted-7"),
        "token": ("--auth", "tok-Planted-7"),
        "nkey": ("-c", str(config)),
    }[auth]
    server = NatsServer(tmp_path / "js", *flags)
    server.start()
    try:
        planted = {
            "user": {"NATS_USER": "sms-worker", "NATS_PASSWORD": "pw-Planted-7"},
            "token": {"NATS_TOKEN": "tok-Planted-7"},
            "nkey": {"NATS_NKEY_SEED": seed},
        }[auth]
        url = f"nats://sms-worker:pw-Planted-7@127.0.0.1:{server.port}" if auth == "user" else server.url
        wrong = {name: "wrong-Planted-7" for name in planted if name != "NATS_USER"}
        if auth == "nkey":
            wrong = {"NATS_NKEY_SEED": nkey_user()[0]}  # a valid seed the server does not know
        env = repo_env(NATS_URL=server.url, NATS_CONNECT_SECONDS="3", HEALTH_PORT="0", **{**planted, **wrong})
        rejected = start_bare(env, tmp_path / "rejected.log")
        assert rejected.wait(15) == 1
        assert "Authorization" in (tmp_path / "rejected.log").read_text()
        accepted = WorkerProcess(
            repo_env(NATS_URL=url, SMS_DRY_RUN="true", **planted), tmp_path / "ok.log"
        ).start()
        assert accepted.terminate()[0] == 0
    finally:
        server.stop()
    logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert "cannot connect to NATS" in logs and "worker started" in logs
    assert "Planted-7" not in logs and seed not in logs


def test_nats_unreachable_exits_1_naming_the_url_without_its_password(tmp_path: Path) -> None:
    url = f"nats://me:pw-Planted-7@127.0.0.1:{closed_port()}"
    process = start_bare(
        repo_env(NATS_URL=url, NATS_CONNECT_SECONDS="2", HEALTH_PORT="0"), tmp_path / "w.log"
    )
    assert process.wait(15) == 1
    logs = (tmp_path / "w.log").read_text()
    assert "cannot connect to NATS" in logs and "nats://***@127.0.0.1" in logs
    assert "Planted-7" not in logs


async def stream_limits(url: str) -> dict[str, tuple[float | None, int | None]]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        limits = {}
        for name in (
            WORKER.stream,
            WORKER.dlq_stream,
            WORKER.notifications_stream,
            f"KV_{WORKER.dedupe_bucket}",
        ):
            config = (await js.stream_info(name)).config
            limits[name] = (config.max_age, config.max_bytes)
        return limits
    finally:
        await nc.close()


def test_streams_and_the_sent_log_are_created_with_bounded_storage(
    worker: WorkerProcess, nats_server: NatsServer
) -> None:
    day, mb = 86_400, 1024 * 1024
    assert run(stream_limits(nats_server.url)) == {
        WORKER.stream: (7 * day, 1024 * mb),
        WORKER.dlq_stream: (30 * day, 256 * mb),
        WORKER.notifications_stream: (30 * day, 1024 * mb),
        f"KV_{WORKER.dedupe_bucket}": (400 * day, 256 * mb),
    }


async def old_layout(url: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().add_stream(name=WORKER.stream, subjects=[WORKER.subject, WORKER.dlq_subject])
    finally:
        await nc.close()


def test_a_stream_from_before_the_dlq_stream_is_kept_and_still_dead_letters(
    worker_env: dict[str, str], nats_server: NatsServer, tmp_path: Path
) -> None:
    run(old_layout(nats_server.url))
    worker = WorkerProcess(worker_env, tmp_path / "worker.log").start()
    try:
        run(publish(nats_server.url, [b"not json"]))
        wait_drained(nats_server.url, 20, "the malformed event terminated")
    finally:
        worker.terminate()
    assert [m.data for m in run(stream_messages(nats_server.url, WORKER.stream, WORKER.dlq_subject))] == [
        b"not json"
    ]


async def take_without_acking(url: str, times: int, ack_wait: float) -> None:
    """Another member of the worker's consumer that dies on the event each time: fetch, never ack."""
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe(
            WORKER.subject, durable=WORKER.durable, stream=WORKER.stream
        )
        for _ in range(times):
            (msg,) = await sub.fetch(batch=1, timeout=10)
            assert msg.metadata.num_delivered <= times
            await asyncio.sleep(ack_wait + 0.5)
    finally:
        await nc.close()


def test_an_event_whose_last_delivery_dies_unacked_is_dead_lettered_from_the_advisory(
    worker_env: dict[str, str], nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path
) -> None:
    env = {
        **worker_env,
        "MAX_DELIVER": "2",
        "ACK_WAIT_SECONDS": "2",
        "SENS_MAX_ATTEMPTS": "1",
        "CLAIM_LEASE_SECONDS": "3",
    }
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    assert worker.process is not None
    try:
        worker.process.send_signal(signal.SIGSTOP)  # subscribed, but takes no event meanwhile
        time.sleep(1.5)  # its outstanding pull request expires
        run(publish(nats_server.url, events(range(1, 2))))
        run(take_without_acking(nats_server.url, times=2, ack_wait=2))
        worker.process.send_signal(signal.SIGCONT)
        wait_until(
            lambda: bool(run(stream_messages(nats_server.url, WORKER.dlq_stream, WORKER.dlq_subject))),
            15,
            "the dead letter",
        )
    finally:
        worker.process.send_signal(signal.SIGCONT)
        worker.terminate()
    (dead,) = run(stream_messages(nats_server.url, WORKER.dlq_stream, WORKER.dlq_subject))
    assert dead.headers["Dead-Letter-Reason"] == "max deliveries (2) reached without an ack"
    assert json.loads(dead.data)["event_id"] == "ev-1" and dead.headers["Original-Sequence"] == "1"
    assert fake_sens.state.received == 0


async def delete_stream(url: str, name: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


def test_a_dlq_that_cannot_be_written_never_leaves_the_event_stuck(
    worker_env: dict[str, str], nats_server: NatsServer, tmp_path: Path
) -> None:
    worker = WorkerProcess({**worker_env, "MAX_DELIVER": "2"}, tmp_path / "worker.log").start()
    try:
        run(delete_stream(nats_server.url, WORKER.dlq_stream))  # dead-letter publishes now find no stream
        run(publish(nats_server.url, [b"not json"]))
        wait_drained(nats_server.url, 30, "the malformed event terminated after its last delivery")
        assert worker.health() == 200
    finally:
        worker.terminate()
    messages = [line["message"] for line in worker.logs()]
    assert "dead-letter publish failed; the event will be redelivered" in messages
    assert "dead-letter publish failed on the last delivery; event terminated" in messages


def scrape(worker: WorkerProcess) -> dict[str, float]:
    """/metrics as Prometheus reads it: each sample by its name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.health_port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_metrics_count_outcomes_sends_and_the_connection_after_real_sends(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    fake_sens.state.fail_next, fake_sens.state.fail_status = 1, 503  # the first send's outcome is unknown
    run(publish(nats_server.url, [*events(range(1, 4)), b"not json"]))
    wait_for_sends(fake_sens, 2)
    wait_drained(nats_server.url, 20, "all messages acked or terminated")

    def counted() -> dict[str, float]:
        metrics = scrape(worker)
        return {
            name: metrics.get(f"naver_sms_worker_outcomes_total{{outcome={name}}}", 0.0)
            for name in ("sent", "unknown", "dead_lettered")
        }

    wait_until(
        lambda: counted() == {"sent": 2.0, "unknown": 1.0, "dead_lettered": 1.0}, 10, "outcomes counted"
    )
    metrics = scrape(worker)
    assert metrics["naver_sms_worker_send_seconds_count"] == 3.0  # the unknown one was a send too
    assert metrics["naver_sms_worker_sends_in_flight"] == 0.0
    assert metrics["naver_sms_worker_nats_connected"] == 1.0
    wait_until(lambda: scrape(worker)["naver_sms_worker_consumer_pending"] == 0.0, 15, "pending refreshed")
    assert "01000000001" not in str(metrics)


def test_the_pending_metric_shows_a_backlog_the_worker_has_not_taken(
    worker_env: dict[str, str], nats_server: NatsServer, tmp_path: Path, fake_sens: FakeSens
) -> None:
    fake_sens.state.delay_seconds = 0.5
    slow = WorkerProcess({**worker_env, "WORKER_CONCURRENCY": "1"}, tmp_path / "slow.log").start()
    try:
        run(publish(nats_server.url, events(range(1, 600))))
        wait_until(lambda: scrape(slow)["naver_sms_worker_consumer_pending"] > 0, 15, "a backlog counted")
        assert scrape(slow)["naver_sms_worker_sends_in_flight"] == 1.0
    finally:
        slow.kill()


def send_times(sens: FakeSens, count: int, timeout: float) -> list[float]:
    """When each of `count` SMS reached the fake SENS (seen every 10 ms), in order."""
    times: list[float] = []
    deadline = time.monotonic() + timeout
    while len(times) < count and time.monotonic() < deadline:
        seen = len(sens.state.sent)
        times.extend([time.monotonic()] * (seen - len(times)))
        time.sleep(0.01)
    assert len(times) >= count, f"{len(times)} of {count} SMS within {timeout} s"
    return times


def test_sends_past_the_ceiling_wait_for_the_next_window_and_all_go_out_once(
    worker_env: dict[str, str], nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path
) -> None:
    """Five a window (2 s here; a minute in production): twelve events make five SMS at once, five a
    window later and two after that. None is nak'ed, redelivered, failed or dead-lettered; the wait is
    counted and the operator's line says so, at most once a window."""
    window, ceiling, total = 2.0, 5, 12
    env = {**worker_env, "WORKER_MAX_SENDS_PER_MINUTE": str(ceiling)}
    worker = WorkerProcess(env, tmp_path / "worker.log", send_window_seconds=window).start()
    try:
        run(publish(nats_server.url, events(range(1, total + 1))))
        times = send_times(fake_sens, total, timeout=15)
        wait_drained(nats_server.url, 10, "every event acked")
        time.sleep(0.5)  # nothing more arrives late
        metrics = scrape(worker)
    finally:
        code, _ = worker.terminate()
    assert code == 0
    assert times[ceiling - 1] - times[0] < window / 2, "the first window's sends waited"
    # No window holds more than the ceiling (10 ms of polling and a claim's round trip of slack).
    for first, later in zip(times, times[ceiling:], strict=False):
        assert later - first > window - 0.1
    assert times[-1] - times[0] < 3 * window
    counts = fake_sens.state.per_recipient()
    assert len(counts) == total and set(counts.values()) == {1}
    assert len(records(nats_server.url, WORKER.sent_subject)) == total
    assert records(nats_server.url, WORKER.failed_subject) == []
    assert run(stream_messages(nats_server.url, WORKER.dlq_stream, WORKER.dlq_subject)) == []
    assert run(consumer_deliveries(nats_server.url)) == total, "a wait spent a delivery"
    assert metrics["naver_sms_worker_sends_deferred_total"] == total - ceiling
    assert metrics["naver_sms_worker_sends_waiting"] == 0.0
    logs = worker.logs()
    messages = [line["message"] for line in logs]
    assert "event will be retried" not in messages
    lines = [line for line in logs if line["message"] == "send ceiling reached"]
    assert 1 <= len(lines) <= 3, lines  # the sends waited through three windows at most
    assert all(line["level"] == "WARNING" for line in lines)
    assert {(line["ceiling"], line["window_seconds"]) for line in lines} == {(ceiling, window)}
    assert lines[0]["deferred"] >= 1 and sum(line["deferred"] for line in lines) <= total - ceiling
    stopped = next(line for line in logs if line["message"] == "worker stopped")
    assert (stopped["sent"], stopped["processed"], stopped["retried"]) == (total, total, 0)


def test_events_waiting_for_the_ceiling_longer_than_the_ack_wait_spend_no_delivery(
    worker_env: dict[str, str], nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path
) -> None:
    """One send slot (two handlers): most events wait in the worker's queue, some in a handler, for
    longer than ACK_WAIT_SECONDS. Both are kept in progress, so JetStream redelivers none of them and
    none comes near its last delivery, however long the backlog."""
    window, ceiling, total = 1.0, 4, 24  # 6 windows: the backlog spans ~5 s, past 2 ack waits
    env = {
        **worker_env,
        "WORKER_MAX_SENDS_PER_MINUTE": str(ceiling),
        "WORKER_CONCURRENCY": "1",
        "ACK_WAIT_SECONDS": "2",
        "SENS_TIMEOUT_SECONDS": "0.5",
        "SENS_MAX_ATTEMPTS": "1",
        "MAX_DELIVER": "2",
    }
    worker = WorkerProcess(env, tmp_path / "worker.log", send_window_seconds=window).start()
    try:
        run(publish(nats_server.url, events(range(1, total + 1))))
        times = send_times(fake_sens, total, timeout=20)
        wait_drained(nats_server.url, 10, "every event acked")
        metrics = scrape(worker)
    finally:
        worker.terminate()
    assert times[-1] - times[0] > 2 * 2.0, "the backlog outlasted no ack wait; the test proves nothing"
    assert set(fake_sens.state.per_recipient().values()) == {1}
    assert run(consumer_deliveries(nats_server.url)) == total, "a waiting event was redelivered"
    assert records(nats_server.url, WORKER.failed_subject) == []
    assert run(stream_messages(nats_server.url, WORKER.dlq_stream, WORKER.dlq_subject)) == []
    assert metrics["naver_sms_worker_sends_deferred_total"] >= 1
