"""Run the worker as a real subprocess (`python -m src`) and talk to it over NATS and HTTP."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import nats
from prometheus_client.parser import text_string_to_metric_families

from tests.support.procs import REPO, free_port, wait_until
from tests.support.topology import WORKER


def upcoming_start() -> str:
    """A start a month ahead, inside every events rule's window (they close at the start) whenever the
    suite runs."""
    return (
        (datetime.now(timezone(timedelta(hours=9))) + timedelta(days=30)).replace(microsecond=0).isoformat()
    )


def booking_event(n: int, *, status: str = "confirmed", kind: str = "booking.created") -> dict[str, Any]:
    return {
        "event_id": f"ev-{n}",
        "type": kind,
        "occurred_at": "2026-11-24T09:00:00+09:00",
        "booking": {
            "id": f"bk-{n}",
            "customer_name": f"손님{n}",
            "phone": f"010{n:08d}",
            "service": "커트",
            "start": upcoming_start(),
            "status": status,
        },
    }


# The worker's own command, with module constants that are not settings replaced: the send ceiling's
# window (a minute), so a test sees several windows in a few seconds; the wait before the first reconcile
# pass, so a test sees one at once (or never).
WITH_CONSTANTS = """
import naver_sms.bootstrap.worker_image as image
{assignments}
from naver_sms.entrypoints.worker.main import main
raise SystemExit(main())
"""


class WorkerProcess:
    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        send_window_seconds: float | None = None,
        first_reconcile_seconds: float | None = None,
    ) -> None:
        self.health_port = free_port()
        self.env = {**env, "HEALTH_PORT": str(self.health_port)}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.command = [sys.executable, "-m", "src"]
        assignments = []
        if send_window_seconds is not None:
            assignments.append(f"image.SEND_CEILING_WINDOW_SECONDS = {float(send_window_seconds)!r}")
        if first_reconcile_seconds is not None:
            assignments.append(f"image.FIRST_RECONCILE_SECONDS = {float(first_reconcile_seconds)!r}")
        if assignments:
            script = WITH_CONSTANTS.format(assignments="\n".join(assignments))
            self.command = [sys.executable, "-c", script]

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_until(lambda: self.health() == 200, 30, "worker health")
        return self

    def health(self) -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1) as r:
                return int(r.status)
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            return None

    def terminate(self, timeout: float = 15) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds from signal to exit)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def metrics(self) -> dict[str, float]:
        """/metrics as Prometheus reads it: each sample by its name and labels (`name{a=1,b=2}`)."""
        url = f"http://127.0.0.1:{self.health_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def logs(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


async def publish(url: str, payloads: list[bytes], subject: str = WORKER.subject) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for payload in payloads:
        await js.publish(subject, payload, stream=WORKER.stream)
    await nc.close()


async def stream_messages(url: str, stream: str, subject: str) -> list[Any]:
    """Every message stored on subject in stream (an ephemeral ordered read)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        info = await js.stream_info(stream)
        if info.state.messages == 0:
            return []  # an empty stream reports first_seq 0, which get_msg refuses
        messages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                raw = await js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:
                continue
            if raw.subject == subject:
                messages.append(raw)
        return messages
    finally:
        await nc.close()


async def consumer_pending(
    url: str, stream: str = WORKER.stream, durable: str = WORKER.durable
) -> tuple[int, int]:
    """(messages not yet delivered, delivered but not acked) for the worker's consumer."""
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return info.num_pending, info.num_ack_pending
    finally:
        await nc.close()


async def consumer_deliveries(url: str, stream: str = WORKER.stream, durable: str = WORKER.durable) -> int:
    """Every delivery the worker's consumer has made, redeliveries included (its consumer sequence)."""
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().consumer_info(stream, durable)).delivered.consumer_seq or 0)
    finally:
        await nc.close()


def wait_drained(url: str, timeout: float, what: str = "every event handled", interval: float = 0.05) -> None:
    """Until the worker's consumer has nothing undelivered and nothing unacked."""
    wait_until(lambda: run(consumer_pending(url)) == (0, 0), timeout, what, interval)


def run(coro: Any) -> Any:
    return asyncio.run(coro)
