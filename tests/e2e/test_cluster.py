"""`make up PROFILE=cluster`: a 3-node JetStream cluster and 2 worker replicas. One NATS node stops
mid-stream; every event is still sent exactly once and every service is healthy again after."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_compose import compose, compose_env, log_records, running_stack
from tests.support import fake_sens
from tests.support.procs import REPO, free_port, wait_until
from tests.support.topology import WORKER
from tests.support.worker import upcoming_start

pytestmark = pytest.mark.docker
EVENTS = 600
SENS_DELAY_SECONDS = 0.25  # 2 replicas x 16 sends at a time: about 5 s to drain the stream

# The fake SENS as a service of the stack (the worker image has the Python it needs), and the cluster's
# workers sending to it for real.
OVERRIDE = f"""
services:
  sens:
    image: naver-sms-worker:${{TAG:-latest}}
    profiles: [cluster]
    entrypoint: ["python", "-m", "tests.support.fake_sens", "{SENS_DELAY_SECONDS}"]
    working_dir: /srv
    volumes:
      - {REPO / "tests"}:/srv/tests:ro
    ports:
      - "${{SENS_PORT}}:8080"
    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/')"]
      interval: 1s
      retries: 30
  worker-cluster:
    environment:
      SMS_DRY_RUN: "false"
      WORKER_MAX_SENDS_PER_MINUTE: "100000"  # the failover, not the ceiling, is what this measures
      SENS_ENDPOINT: http://sens:8080
      SENS_ACCESS_KEY: {fake_sens.ACCESS_KEY}
      SENS_SECRET_KEY: {fake_sens.SECRET_KEY}
      SENS_SERVICE_ID: {fake_sens.SERVICE_ID}
      SENS_SENDER: "{fake_sens.SENDER}"
    depends_on:
      sens:
        condition: service_healthy
"""

PUBLISH = f"""
import asyncio, json, sys, nats
async def main():
    nc = await nats.connect(servers=["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"])
    js = nc.jetstream()
    for n in range(1, int(sys.argv[1]) + 1):
        booking = {{"id": f"bk-{{n}}", "customer_name": "손님", "phone": f"010{{n:08d}}", "service": "커트",
                   "start": sys.argv[2], "status": "confirmed"}}
        event = {{"event_id": f"ev-{{n}}", "type": "booking.created",
                 "occurred_at": "2026-11-24T09:00:00+09:00", "booking": booking}}
        await js.publish({WORKER.subject!r}, json.dumps(event).encode(), stream={WORKER.stream!r}, timeout=10)
    await nc.close()
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def cluster(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    override = Path(tmp_path_factory.mktemp("cluster")) / "compose.override.yaml"
    override.write_text(OVERRIDE)
    env = {
        **compose_env(free_port()),
        "PROFILE": "cluster",
        "SENS_PORT": str(free_port()),
        "COMPOSE_FILE": f"{REPO / 'compose.yaml'}:{override}",
    }
    with running_stack(env):
        yield env


def sens_sent(env: dict[str, str]) -> Counter[str]:
    return fake_sens.reported_sends(f"http://127.0.0.1:{env['SENS_PORT']}")


def health(env: dict[str, str]) -> dict[str, str]:
    services = [
        json.loads(line)
        for line in compose(env, "--profile", "cluster", "ps", "--format", "json").splitlines()
        if line.strip()
    ]
    return {s["Name"]: s["Health"] for s in services}


def worker_trouble(env: dict[str, str]) -> Counter[str]:
    """What the workers warned about, by message and error: why an event has not been sent yet."""
    records = log_records(env, "worker-cluster", "--profile", "cluster")
    return Counter(
        f"{r['message']}: {r.get('error', r.get('reason', ''))}"[:200]
        for r in records
        if r.get("level") in ("WARNING", "ERROR")
    )


def test_one_node_stops_mid_stream_and_every_event_is_sent_exactly_once(cluster: dict[str, str]) -> None:
    assert len([name for name in health(cluster) if "worker-cluster" in name]) == 2
    compose(
        cluster,
        "--profile",
        "cluster",
        "exec",
        "-T",
        "--index",
        "1",
        "worker-cluster",
        "python",
        "-c",
        PUBLISH,
        str(EVENTS),
        upcoming_start(),
    )
    wait_until(lambda: sum(sens_sent(cluster).values()) >= 50, 60, "the first SMS")
    compose(cluster, "--profile", "cluster", "stop", "nats-2")
    assert sum(sens_sent(cluster).values()) < EVENTS, "the stream drained before the node stopped"
    try:
        wait_until(lambda: len(sens_sent(cluster)) >= EVENTS, 180, f"{EVENTS} distinct SMS", interval=1)
    except TimeoutError as err:
        raise TimeoutError(f"{err}; {len(sens_sent(cluster))} sent; {worker_trouble(cluster)}") from err
    compose(cluster, "--profile", "cluster", "start", "nats-2")
    wait_until(
        lambda: set(health(cluster).values()) == {"healthy"}, 90, "every service healthy again", interval=1
    )
    sent = sens_sent(cluster)
    assert len(sent) == EVENTS and set(sent.values()) == {1}, sent.most_common(3)
