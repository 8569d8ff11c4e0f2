"""Parity: the same sample events give the same bodies however the handler runs — in-process, under
the host RIE (`make run-local`) and under the container's RIE (`make run-rie`) — and the same events
give the same outcomes from the worker as a process and as a container.

Bodies must match exactly, except for the fields each sample names as varying (the version string).
The parity samples run against the fake Naver with credentials, so the smoke reports secrets "ok".
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import main
from tests.support.bookings import mixed_bookings
from tests.support.emulator import INVOKE_PATH, serve
from tests.support.fake_naver import FakeNaver
from tests.support.fake_sens import FakeSens
from tests.support.lambda_invoke import EVENTS, invoke, mismatch
from tests.support.moto import AWS_TEST_ENV, SENT_LOG_TABLE, create_sent_log_table
from tests.support.nats_server import NatsServer
from tests.support.procs import (
    free_port,
    http_ok,
    need,
    port_open,
    repo_env,
    script,
    shell_constant,
    wait_until,
)
from tests.support.topology import WORKER
from tests.support.worker import WorkerProcess, booking_event, publish, run, stream_messages, wait_drained

SAMPLES = sorted(EVENTS.glob("invalid-*.json")) + sorted((EVENTS / "parity").glob("*.json"))
Invoke = Callable[[object], object]


@pytest.fixture(scope="module")
def world(moto_url: str) -> Iterator[dict[str, str]]:
    """One fake Naver and one moto table shared by every runner, like one AWS account."""
    import boto3

    with FakeNaver() as naver:
        naver.state.bookings = mixed_bookings()
        # Each runner is a process of its own and logs in once, against one login guard in the one table:
        # three logins within the hour, over the guard's default of two (its own tests prove that).
        env = {"AWS_ENDPOINT_URL": moto_url, **AWS_TEST_ENV, **naver.env(), "NAVER_MAX_LOGINS_PER_HOUR": "10"}
        client = boto3.client(
            "dynamodb",
            endpoint_url=moto_url,
            region_name=AWS_TEST_ENV["AWS_REGION"],
            aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        if SENT_LOG_TABLE not in client.list_tables()["TableNames"]:
            create_sent_log_table(client=client)
        yield env


@pytest.fixture
def in_process(world: dict[str, str], browser_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Invoke:
    for name, value in world.items():
        monkeypatch.setenv(name, value)
    return lambda event: main.lambda_handler(event, None)


@pytest.fixture
def host_rie(world: dict[str, str], browser_env: dict[str, str], tmp_path: Path) -> Iterator[Invoke]:
    with serve({**world, **browser_env}, tmp_path / "rie.log") as emulator:
        yield lambda event: invoke(emulator.url, event)


@pytest.fixture
def container_rie(world: dict[str, str], images: dict[str, str], tmp_path: Path) -> Iterator[Invoke]:
    """Host networking, so the container reaches the fake Naver and moto on loopback. Its emulator then binds
    this machine's ports, its Runtime API's (9001) included: a run-local on the host held that one too
    until run-local moved its own to a free port; run-rie now refuses a taken one by name."""
    port = int(shell_constant("RIE_IMAGE_PORT"))
    need(not port_open(port), f"port {port} is busy; the image's RIE needs it under host networking")
    env_file = tmp_path / "parity.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in world.items()))
    name = "naver-sms-parity"
    started = script(
        "run-rie.sh", ENV_FILE=str(env_file), RIE_DETACH="1", RIE_CONTAINER=name, DOCKER_NETWORK="host"
    )
    assert started.returncode == 0, started.stderr
    try:
        wait_until(lambda: port_open(port), 30, "the container's RIE")
        yield lambda event: invoke(f"http://127.0.0.1:{port}{INVOKE_PATH}", event)
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


@pytest.mark.parametrize("runner", ["in_process", "host_rie", "container_rie"])
def test_every_sample_gives_the_same_body(runner: str, request: pytest.FixtureRequest) -> None:
    handler: Invoke = request.getfixturevalue(runner)
    problems = {}
    for path in SAMPLES:
        sample = json.loads(path.read_text())
        problem = mismatch(sample, handler(sample["event"]))
        if problem:
            problems[path.stem] = problem
    assert problems == {}, f"{runner}: {problems}"


def test_the_parity_set_covers_every_kind_of_input() -> None:
    names = {p.stem for p in SAMPLES}
    assert {"smoke-with-secrets", "scheduled-run-dry"} <= names
    assert len([n for n in names if n.startswith("invalid-")]) >= 6


WORKER_EVENTS: list[bytes] = [
    json.dumps(booking_event(1)).encode(),
    json.dumps(booking_event(2, status="cancelled", kind="booking.cancelled")).encode(),
    json.dumps(booking_event(3, status="completed", kind="booking.completed")).encode(),  # scheduled-run rule
    json.dumps(booking_event(4, status="pending")).encode(),
    json.dumps(booking_event(6, kind="booking.updated")).encode(),
    json.dumps(booking_event(1)).encode(),  # a replay: no second SMS
    b"{not json",
    json.dumps({**booking_event(5), "occurred_at": "yesterday"}).encode(),
]
WORKER_OUTCOME = {
    "records": [("bk-1", "confirmation"), ("bk-2", "cancellation"), ("bk-6", "confirmation")],
    "sms_to": ["01000000001", "01000000002", "01000000006"],
    "dead_letters": ["event.occurred_at", "not JSON"],
}


def worker_outcome(url: str, sens: FakeSens) -> dict[str, list[object]]:
    """What a run left behind: sent records, SMS at the fake SENS, dead letters (reason up to its colon)."""
    sent = [
        json.loads(m.data)
        for m in run(stream_messages(url, WORKER.notifications_stream, WORKER.sent_subject))
    ]
    dlq = run(stream_messages(url, WORKER.dlq_stream, WORKER.dlq_subject))
    return {
        "records": sorted((r["booking_id"], r["rule"]) for r in sent),
        "sms_to": sorted(m["messages"][0]["to"] for m in sens.state.sent),
        "dead_letters": sorted(m.headers["Dead-Letter-Reason"].split(":", 1)[0] for m in dlq),
    }


@pytest.mark.parametrize("runner", ["process", "container"])
def test_worker_outcomes_match(
    runner: str, nats_server: NatsServer, fake_sens: FakeSens, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {"NATS_URL": nats_server.url, "SMS_DRY_RUN": "false", **fake_sens.env()}
    if runner == "process":
        worker = WorkerProcess(repo_env(**env), tmp_path / "worker.log").start()
        stop_worker: Callable[[], object] = worker.terminate
    else:
        images: dict[str, str] = request.getfixturevalue("images")
        health_port = free_port()
        flags = [f"--env={k}={v}" for k, v in {**env, "HEALTH_PORT": str(health_port)}.items()]
        name = f"naver-sms-worker-parity-{health_port}"
        subprocess.run(
            ["docker", "run", "--detach", "--name", name, "--network", "host", *flags, images["worker"]],
            check=True,
            capture_output=True,
        )
        wait_until(lambda: http_ok(f"http://127.0.0.1:{health_port}/healthz"), 30, "worker container healthy")

        def stop_worker() -> object:
            return subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)

    try:
        run(publish(nats_server.url, WORKER_EVENTS))
        wait_drained(nats_server.url, 30, "every event handled")
        assert worker_outcome(nats_server.url, fake_sens) == WORKER_OUTCOME
    finally:
        stop_worker()
