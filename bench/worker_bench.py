"""Worker figures: events/s through the worker (dry run) beside raw nats-py pull + ack, and the
SIGTERM-to-exit time under load with nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig

from naver_sms.bootstrap.shared import sms_transport
from naver_sms.domain.messages import PlannedMessage
from naver_sms.settings import Settings
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


def drain_seconds(server: NatsServer, env: dict[str, str], log: Path, count: int) -> float:
    """Seconds for a worker to drain the `count` events waiting for it. The clock starts when the worker
    reports healthy (connected and consuming), so process start-up and imports are not counted."""
    worker = WorkerProcess(env, log).start()
    started = time.monotonic()
    run(until_drained(server.url, 300))
    elapsed = time.monotonic() - started
    worker.terminate()
    return elapsed


async def until_drained(url: str, timeout: float, interval: float = 0.05) -> None:
    """Until the worker's consumer has nothing undelivered and nothing unacked, asked over one
    connection: a connection per look (the tests' wait_drained) costs the server and this process CPU
    that the raw baseline, which times its own loop, never pays."""
    nc = await nats.connect(url)
    try:
        js, deadline = nc.jetstream(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = await js.consumer_info(WORKER.stream, WORKER.durable)
            if (info.num_pending, info.num_ack_pending) == (0, 0):
                return
            await asyncio.sleep(interval)
        raise TimeoutError(f"the worker did not drain the stream within {timeout} s")
    finally:
        await nc.close()


THROUGHPUT_ROUNDS = 3


def throughput(
    count: int = 50_000, log_level: str = "INFO", rounds: int = THROUGHPUT_ROUNDS
) -> dict[str, float]:
    """At INFO (the default) a dry-run worker logs the "would send" lines of 100 events a second and
    counts the rest; DEBUG logs one for every event, which shows what a line per event costs.

    This machine's noise moves either rate by a third from one run to the next, in bursts of seconds,
    and only ever slows a drain down. So a round is three batches of `count` events (two seconds or so
    each way), each drained by raw nats-py and by the worker, one after the other: raw first, then the
    worker first, then raw first again (A-B-B-A-A-B, so neither side always gets the quieter or the
    warmer turn). A round compares each side's fastest drain, as timeit takes the fastest of its
    repeats; the figure is the round with the median ratio, and the lowest round's is reported beside
    it."""
    figures: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(Path(tmp) / "js")
        server.start()
        try:
            env = {**worker_env(server.url), "LOG_LEVEL": log_level}
            log = Path(tmp) / "w.log"
            WorkerProcess(env, log).start().terminate()  # the stream and the worker's consumer
            for _ in range(rounds):
                ours: list[float] = []
                raw: list[float] = []
                for worker_first in (False, True, False):
                    run(publish(server.url, [json.dumps(booking_event(n)).encode() for n in range(count)]))
                    if worker_first:
                        ours.append(count / drain_seconds(server, env, log, count))
                    raw.append(run(raw_consume(server.url, count)))
                    if not worker_first:
                        ours.append(count / drain_seconds(server, env, log, count))
                figures.append({"worker_eps": max(ours), "raw_eps": max(raw), "ratio": max(ours) / max(raw)})
        finally:
            server.stop()
    median = sorted(figures, key=lambda r: r["ratio"])[len(figures) // 2]
    lowest = min(r["ratio"] for r in figures)
    return {**median, "lowest_ratio": lowest, "events": count, "rounds": len(figures)}


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


async def bare_send_rate(sens_url: str, count: int, concurrency: int) -> float:
    """Baseline: the worker's own SENS transport alone, `concurrency` sends at a time to the same fake
    SENS, no NATS and no sent log: what any client reaches on this machine, below the ideal bound by
    each request's own work (signing, HTTP on both sides) on cores shared with the server."""
    env = {**os.environ, **sens_env(sens_url), "SMS_DRY_RUN": "false"}
    transport = sms_transport(Settings.load(environ=env), dry_run=False, concurrency=concurrency)

    def batch(tag: str) -> asyncio.Queue[PlannedMessage]:
        queue: asyncio.Queue[PlannedMessage] = asyncio.Queue()
        for n in range(count):
            queue.put_nowait(PlannedMessage("bench", f"{tag}{n}", f"010{n:08d}", "예약 안내", f"{tag}{n}"))
        return queue

    async def drain(queue: asyncio.Queue[PlannedMessage]) -> None:
        while not queue.empty():
            await transport.send(queue.get_nowait())

    try:
        warm = batch("warm-")
        await asyncio.gather(*(drain(warm) for _ in range(concurrency)))  # connections opened
        timed = batch("bare-")
        started = time.monotonic()
        await asyncio.gather(*(drain(timed) for _ in range(concurrency)))
        return count / (time.monotonic() - started)
    finally:
        await transport.close()


def real_send_throughput(count: int = REAL_SEND_EVENTS) -> dict[str, float]:
    """Events/s through the whole send path (KV claim, SENS over HTTP, confirm, sent record, ack)
    against the fake SENS answering each request in 20 ms, beside the bare transport on the same fake
    SENS in the same run; the ideal bound is concurrency / 20 ms. A-B-B-A as the dry run's rounds: the
    bare transport, the worker, the worker again on as many new events, the bare transport again; each
    side's faster drain is compared, and every event of both of the worker's drains must be sent once."""
    concurrency = 16
    with tempfile.TemporaryDirectory() as tmp, fake_sens_process(SENS_ANSWER_SECONDS) as sens_url:
        bare = [run(bare_send_rate(sens_url, count, concurrency))]
        before = reported_sends(sens_url).total()
        server = NatsServer(Path(tmp) / "js")
        server.start()
        try:
            env = {
                **worker_env(server.url),
                **sens_env(sens_url),
                "SMS_DRY_RUN": "false",
                "WORKER_CONCURRENCY": str(concurrency),
            }
            log = Path(tmp) / "w.log"
            WorkerProcess(env, log).start().terminate()  # the stream and the worker's consumer
            ours = []
            for first in (0, count):  # new bookings each drain: the sent log answers none as sent
                events = range(first, first + count)
                run(publish(server.url, [json.dumps(booking_event(n)).encode() for n in events]))
                ours.append(count / drain_seconds(server, env, log, count))
            sent = reported_sends(sens_url).total() - before
        finally:
            server.stop()
        bare.append(run(bare_send_rate(sens_url, count, concurrency)))
    ceiling = concurrency / SENS_ANSWER_SECONDS
    return {
        "worker_eps": max(ours),
        "ceiling_eps": ceiling,
        "ratio": max(ours) / ceiling,
        "bare_eps": max(bare),
        "bare_ratio": max(ours) / max(bare),
        "sent": sent,
        "events": 2 * count,
        "per_drain": count,
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
