"""The worker as a real subprocess against a real nats-server and the fake SENS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_sens import FakeSens
from tests.support.nats_server import NatsServer
from tests.support.procs import repo_env, wait_until
from tests.support.worker import WorkerProcess, booking_event, publish, run, stream_messages, wait_drained


@pytest.fixture
def worker_env(nats_server: NatsServer, fake_sens: FakeSens) -> dict[str, str]:
    # A short ack wait makes redelivery quick to observe; SMS attempts must then be short too.
    return repo_env(
        NATS_URL=nats_server.url,
        SMS_DRY_RUN="false",
        NAK_DELAY_SECONDS="1",
        ACK_WAIT_SECONDS="5",
        SENS_TIMEOUT_SECONDS="1",
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
    sent = run(stream_messages(nats_server.url, "NOTIFICATIONS", "notifications.sent"))
    assert len(sent) == 3
    assert all(m.headers["Nats-Msg-Id"] == json.loads(m.data)["idempotency_key"] for m in sent)
    dlq = run(stream_messages(nats_server.url, "BOOKINGS", "bookings.dlq"))
    assert [m.data for m in dlq] == malformed
    assert "not JSON" in dlq[0].headers["Dead-Letter-Reason"]
    assert "event.occurred_at" in dlq[1].headers["Dead-Letter-Reason"]
    code, _ = worker.terminate()
    assert code == 0
    logs = worker.logs()
    assert logs and all({"timestamp", "level", "logger", "message"} <= line.keys() for line in logs)
    summary = next(line for line in logs if line["message"] == "worker stopped")
    assert (summary["sent"], summary["dead_lettered"]) == (3, 2)


def test_replayed_event_is_not_sent_twice(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    run(publish(nats_server.url, events(range(1, 2)) * 3))
    wait_drained(nats_server.url, 20, "all acked")
    assert len(fake_sens.state.sent) == 1
    summary_code, _ = worker.terminate()
    assert summary_code == 0
    assert next(line for line in worker.logs() if line["message"] == "worker stopped")["duplicates"] == 2


def test_sms_api_outage_is_retried_never_dropped(
    worker: WorkerProcess, nats_server: NatsServer, fake_sens: FakeSens
) -> None:
    fake_sens.state.fail_next = 6  # two events' worth of three attempts each
    run(publish(nats_server.url, events(range(1, 3))))
    wait_for_sends(fake_sens, 2, timeout=30)
    failed = run(stream_messages(nats_server.url, "NOTIFICATIONS", "notifications.failed"))
    assert failed and all(json.loads(m.data)["retryable"] for m in failed)
    wait_drained(nats_server.url, 20, "all acked")
    assert set(fake_sens.state.per_recipient().values()) == {1}


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
    assert len(run(stream_messages(nats_server.url, "BOOKINGS", "bookings.dlq"))) == 20


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


def test_sigterm_with_a_send_stuck_on_the_sms_api(
    worker_env: dict[str, str],
    nats_server: NatsServer,
    fake_sens: FakeSens,
    tmp_path: Path,
) -> None:
    """A send blocked on the SMS API must not hold the worker past Docker's grace, nor be sent twice."""
    slow_api_env = {**worker_env, "ACK_WAIT_SECONDS": "30", "SENS_TIMEOUT_SECONDS": "8"}
    worker = WorkerProcess(slow_api_env, tmp_path / "worker.log").start()
    fake_sens.state.delay_seconds = 20
    try:
        run(publish(nats_server.url, events(range(1, 2))))
        wait_until(lambda: fake_sens.state.received >= 1, 10, "the send to reach the SMS API")
        code, seconds = worker.terminate()
    finally:
        worker.kill()
    assert code == 0 and seconds < 10
    assert any(line["message"] == "exiting with SMS sends still blocked" for line in worker.logs())
    fake_sens.state.delay_seconds = 0
    restarted = WorkerProcess(slow_api_env, tmp_path / "worker2.log").start()
    try:
        wait_drained(nats_server.url, 30, "the redelivered event handled")
    finally:
        restarted.terminate()
    assert fake_sens.state.received == 1  # the redelivery found the claim: no second request
