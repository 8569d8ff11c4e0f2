"""Worker figures: events/s through the worker (dry run) beside raw nats-py pull + ack, and the
SIGTERM-to-exit time under load with nothing lost."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig

from tests.support.fake_sens import reported_sends, sens_env
from tests.support.nats_server import NatsServer
from tests.support.procs import REPO
from tests.support.topology import WORKER
from tests.support.worker import WorkerProcess, booking_event, publish, run, wait_drained


def worker_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "NATS_URL": url,
        "SMS_DRY_RUN": "true",
        "LOG_LEVEL": "INFO",
        "WORKER_MAX_SENDS_PER_MINUTE": "100000",  # throughput, not the ceiling, is what this measures
        "PYTHONPATH": str(REPO),
    }


async def raw_consume(url: str, count: int) -> float:
    """Baseline: a plain nats-py pull consumer that only acks, on the same stream and server."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        WORKER.subject,
        durable="raw-bench",
        stream=WORKER.stream,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=-1),
    )
    started, seen = time.monotonic(), 0
    while seen < count:
        for msg in await sub.fetch(batch=256, timeout=5):
            await msg.ack()
            seen += 1
    await nc.flush()
    elapsed = time.monotonic() - started
    await nc.close()
    return count / elapsed


def drain_rate(
    server: NatsServer,
    env: dict[str, str],
    log: Path,
    count: int,
    baseline: Callable[[str], None] | None = None,
) -> float:
    """Events/s for the worker to drain `count` published events. A first start creates the stream;
    `baseline(url)` then runs on the same filled stream. The clock starts when the worker reports
    healthy (connected and consuming), so process start-up and imports are not counted."""
    WorkerProcess(env, log).start().terminate()
    run(publish(server.url, [json.dumps(booking_event(n)).encode() for n in range(count)]))
    if baseline is not None:
        baseline(server.url)
    worker = WorkerProcess(env, log).start()
    started = time.monotonic()
    wait_drained(server.url, 300, "worker drained the stream")
    rate = count / (time.monotonic() - started)
    worker.terminate()
    return rate


THROUGHPUT_ROUNDS = 3


def throughput(count: int = 20_000, log_level: str = "INFO") -> dict[str, float]:
    """At INFO (the default) a dry-run worker logs the "would send" lines of 100 events a second and
    counts the rest; DEBUG logs one for every event, which shows what a line per event costs.
    Each round drains a fresh batch with raw nats-py, then with the worker. This machine's noise moves
    the raw rate by a third from one run to the next, so the figure is the round with the median ratio."""
    rounds: list[dict[str, float]] = []
    raw: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(Path(tmp) / "js")
        server.start()
        try:

            def baseline(url: str) -> None:
                raw.append(run(raw_consume(url, count)))

            env = {**worker_env(server.url), "LOG_LEVEL": log_level}
            for _ in range(THROUGHPUT_ROUNDS):
                ours = drain_rate(server, env, Path(tmp) / "w.log", count, baseline)
                rounds.append({"worker_eps": ours, "raw_eps": raw[-1], "ratio": ours / raw[-1]})
        finally:
            server.stop()
    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    lowest = min(r["ratio"] for r in rounds)
    return {**median, "lowest_ratio": lowest, "events": count, "rounds": len(rounds)}


SENS_ANSWER_SECONDS = 0.02
REAL_SEND_EVENTS = 2000


@contextlib.contextmanager
def fake_sens_process(delay: float) -> Iterator[str]:
    """The fake SENS in a process of its own, so its answers wait on no other work's GIL; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_sens", str(delay), "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)


def real_send_throughput(count: int = REAL_SEND_EVENTS) -> dict[str, float]:
    """Events/s through the whole send path (KV claim, SENS over HTTP, confirm, sent record, ack)
    against the fake SENS answering each request in 20 ms; the ceiling is concurrency / 20 ms."""
    concurrency = 16
    with tempfile.TemporaryDirectory() as tmp, fake_sens_process(SENS_ANSWER_SECONDS) as sens_url:
        server = NatsServer(Path(tmp) / "js")
        server.start()
        try:
            env = {
                **worker_env(server.url),
                **sens_env(sens_url),
                "SMS_DRY_RUN": "false",
                "WORKER_CONCURRENCY": str(concurrency),
            }
            ours = drain_rate(server, env, Path(tmp) / "w.log", count)
            sent = reported_sends(sens_url).total()
        finally:
            server.stop()
    ceiling = concurrency / SENS_ANSWER_SECONDS
    return {
        "worker_eps": ours,
        "ceiling_eps": ceiling,
        "ratio": ours / ceiling,
        "sent": sent,
        "events": count,
    }


def sigterm_under_load(count: int = 5000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(Path(tmp) / "js")
        server.start()
        try:
            first = WorkerProcess(worker_env(server.url), Path(tmp) / "a.log").start()
            run(publish(server.url, [json.dumps(booking_event(n)).encode() for n in range(count)]))
            time.sleep(0.3)
            code, seconds = first.terminate()
            second = WorkerProcess(worker_env(server.url), Path(tmp) / "b.log").start()
            wait_drained(server.url, 300, "restarted worker drained the stream")
            second.terminate()
            processed = sum(
                next(line["processed"] for line in w.logs() if line["message"] == "worker stopped")
                for w in (first, second)
            )
        finally:
            server.stop()
    return {"exit_code": code, "seconds": seconds, "processed": processed, "published": count}
