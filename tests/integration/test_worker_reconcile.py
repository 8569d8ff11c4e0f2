"""The worker's reconciler (issue #36) as a real subprocess against a real nats-server and the fake SENS
over HTTP: a worker leaves an unknown (SENS took the SMS and hung up) and a send whose handset fails,
and the next worker's first pass settles both from SENS's own record."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NoKeysError

from tests.support.fake_sens import FakeSens
from tests.support.nats_server import NatsServer
from tests.support.procs import repo_env, wait_until
from tests.support.topology import WORKER
from tests.support.worker import WorkerProcess, booking_event, publish, run, stream_messages, wait_drained

LEASE, MARGIN = 3.0, 2.0  # the claim's lease and the reconciler's margin: a window settles 5 s after it
NEVER = 3_600.0


def reconcile_env(nats_server: NatsServer, fake_sens: FakeSens) -> dict[str, str]:
    # One 1 s attempt per send fits the 3 s lease; SENS's list is trusted at once (no settle time) and
    # a handset result asked for at once; the timer's interval outlasts the test: one pass per worker.
    return repo_env(
        NATS_URL=nats_server.url,
        SMS_DRY_RUN="false",
        NAK_DELAY_SECONDS="1",
        ACK_WAIT_SECONDS="10",
        CLAIM_LEASE_SECONDS=str(LEASE),
        SENS_TIMEOUT_SECONDS="1",
        SENS_MAX_ATTEMPTS="1",
        WORKER_MAX_SENDS_PER_MINUTE="100000",
        RECONCILE_SETTLE_SECONDS="0",
        RECONCILE_MARGIN_SECONDS=str(MARGIN),  # SENS's times are whole seconds
        RECONCILE_HANDSET_DELAY_SECONDS="0",
        RECONCILE_INTERVAL_SECONDS=str(NEVER),
        **fake_sens.env(),
    )


async def bucket(url: str) -> dict[str, dict[str, Any]]:
    """The sent log's records by booking id (a record names its booking, never its phone)."""
    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().key_value(WORKER.dedupe_bucket)
        try:
            keys = await kv.keys()
        except NoKeysError:
            return {}
        records = [json.loads((await kv.get(key)).value or b"{}") for key in keys]
        return {record["booking_id"]: record for record in records}
    finally:
        await nc.close()


def handled(url: str, event: dict[str, Any]) -> None:
    run(publish(url, [json.dumps(event).encode()]))
    wait_drained(url, 30, f"{event['event_id']} acked")


def test_a_restarted_workers_first_pass_settles_an_unknown_and_alerts_a_handset_failure_once(
    nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path
) -> None:
    env = reconcile_env(nats_server, fake_sens)
    lost, failing = booking_event(1), booking_event(2)
    phones = [lost["booking"]["phone"], failing["booking"]["phone"]]
    fake_sens.state.records.failing_phones.add(failing["booking"]["phone"])
    first = WorkerProcess(env, tmp_path / "first.log", first_reconcile_seconds=NEVER).start()
    try:
        fake_sens.state.drop_next = 1  # SENS takes the first SMS and hangs up: unknown, never resent
        handled(nats_server.url, lost)
        handled(nats_server.url, failing)
    finally:
        assert first.terminate()[0] == 0
    records = run(bucket(nats_server.url))
    assert (records["bk-1"]["state"], records["bk-1"].get("open")) == ("unknown", "unknown")  # reported
    assert (records["bk-2"]["state"], records["bk-2"].get("open")) == ("sent", "handset")
    settled_at = max(record["at"] for record in records.values()) + LEASE + MARGIN
    time.sleep(max(0.0, settled_at - time.time()))

    second = WorkerProcess(env, tmp_path / "second.log", first_reconcile_seconds=0.2).start()
    try:
        wait_until(lambda: any(line["message"] == "reconcile pass" for line in second.logs()), 30, "a pass")
        metrics = second.metrics()
    finally:
        assert second.terminate()[0] == 0

    records = run(bucket(nats_server.url))
    (accepted,) = [m for m in fake_sens.state.records.messages if m["to"] == phones[0]]
    assert records["bk-1"]["state"] == "sent"
    assert (records["bk-1"]["provider_id"], records["bk-1"]["message_id"]) == (
        accepted["requestId"],
        accepted["messageId"],
    )
    assert (records["bk-2"]["state"], records["bk-2"]["status_code"]) == ("failed", "3018")
    assert [m["messages"][0]["to"] for m in fake_sens.state.sent].count(phones[0]) == 1  # sent once
    assert fake_sens.state.received == 2

    outcome = "naver_sms_worker_reconciled_total{{outcome={}}}"
    assert metrics[outcome.format("resolved_sent")] == 1
    assert metrics[outcome.format("handset_failed")] == 1
    assert metrics[outcome.format("released")] == 0
    assert metrics["naver_sms_worker_reconcile_passes_total{result=done}"] == 1
    assert metrics["naver_sms_worker_reconcile_last_pass_timestamp_seconds"] > 0

    lines = second.logs()
    (done,) = [line for line in lines if line["message"] == "reconcile pass"]
    assert (done["resolved_sent"], done["handset_failed"], done["resend_not_found"]) == (1, 1, False)
    (alert,) = [line for line in lines if line["message"] == "sms not delivered to the handset"]
    assert (alert["level"], alert["booking_id"], alert["phone"]) == ("WARNING", "bk-2", "010****0002")
    (started,) = [line for line in lines if line["message"] == "reconciler started"]
    assert "never resends" in started["not_found"]
    for log in (first.log_path, second.log_path):  # the phones appear masked, or not at all
        assert not [phone for phone in phones if phone in log.read_text()]
    # The unknown was reported once, by the worker that marked it; the reconciler publishes nothing.
    failed = run(stream_messages(nats_server.url, WORKER.notifications_stream, WORKER.failed_subject))
    assert [json.loads(m.data)["booking_id"] for m in failed] == ["bk-1"]
