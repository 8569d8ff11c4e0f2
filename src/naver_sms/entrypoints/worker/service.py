"""The worker's life cycle: connect, consume with bounded concurrency, shut down inside the drain budget.

Signal handlers only set an event; one AsyncExitStack owns everything `Worker.run` starts (the health
server, the SMS transport, the connection, the pull feed, the background tasks, the reconciler's timer
with its SENS reader, and the consumer's handler tasks), so everything is closed in reverse order however
the run ends, a failure at start-up included: handlers in the middle of a send finish (inside the drain
budget) before the connection and transport they use are closed; the reconciler's timer is cancelled as
the stop begins (a pass cut there leaves each record as it was or moved once: every write is a
compare-and-set).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from functools import partial

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from naver_sms.adapters.nats_connection import NotConnected, StoppedConnecting
from naver_sms.adapters.prometheus_metrics import WorkerMetrics
from naver_sms.application.errors import error_type
from naver_sms.bootstrap.shared import given
from naver_sms.bootstrap.worker_image import WorkerComposition, connect_nats
from naver_sms.entrypoints.worker.consumer import PULL_EXPIRES_SECONDS, Consumer, HeldQueue
from naver_sms.entrypoints.worker.handler import EventHandler
from naver_sms.entrypoints.worker.health import HealthServer
from naver_sms.entrypoints.worker.pull import PullFeed
from naver_sms.entrypoints.worker.topology import dedupe_bucket, ensure_topology, live_max_deliver
from naver_sms.logging_setup import LineBudget
from naver_sms.settings import Settings
from naver_sms.settings.redact import without_credentials

log = logging.getLogger("naver_sms.worker")

UNLOGGED_REPORT_SECONDS = 5  # how often a dry run says how many decisions it did not log one by one
PENDING_REFRESH_SECONDS = 5  # how stale the backlog metric may be
CLOSE_BUDGET_SECONDS = 2  # kept back from the drain budget for draining the connection itself
CANCEL_AGAIN_SECONDS = 0.5  # a background task still running this long after its cancel is cancelled again


class Worker:
    def __init__(self, settings: Settings, parts: WorkerComposition | None = None) -> None:
        """`parts`: the worker's root over adapters of a caller's choosing (a test's); by default, the
        real ones, built when the run starts."""
        self._settings = settings
        self._parts = parts
        self._stop = asyncio.Event()
        self._consumer: Consumer | None = None
        self._nc: Client | None = None
        self._exit_code = 0

    def healthy(self) -> bool:
        consuming = self._consumer is not None and self._consumer.consuming
        return consuming and self._nc is not None and self._nc.is_connected

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        w = self._settings.worker
        parts = given(self._parts, lambda: WorkerComposition(self._settings))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        async with contextlib.AsyncExitStack() as stack:
            health = HealthServer(w.health_port, self.healthy, parts.metrics.render)
            await health.start()
            stack.push_async_callback(health.stop)
            stack.push_async_callback(parts.transport.close)
            self._nc = await self._connect()
            if self._nc is None:
                return self._exit_code
            stack.push_async_callback(self._close)
            js = self._nc.jetstream()
            consumer = await ensure_topology(js, w)
            queue = HeldQueue()
            feed = PullFeed(self._nc, w.stream, w.durable, queue)
            await feed.start()
            # A run that ends early stops the feed at once; one that drains stops it below, and then
            # this finds it stopped.
            stack.push_async_callback(feed.stop, 0)
            kv = await dedupe_bucket(js, w)
            handler = parts.handler(
                js, kv, max_deliver=live_max_deliver(consumer), max_payload=self._nc.max_payload
            )
            nc = self._nc
            parts.metrics.watch_connection(lambda: nc.is_connected)
            await self._nc.subscribe(
                f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{w.stream}.{w.durable}",
                queue=f"{w.durable}-advisories",
                cb=partial(self._on_exhausted, handler),
            )
            # What is made by now (modules, wiring, the connection) lives as long as the worker: moved out
            # of the collector's generations, so its collections walk only what events make (a few per
            # cent of a dry-run worker's throughput in make bench).
            gc.freeze()
            log.info(
                "worker started",
                extra={
                    "nats_url": without_credentials(w.nats_url),
                    "dry_run": parts.dry_run,
                    "concurrency": w.concurrency,
                    "max_sends_per_minute": w.max_sends_per_minute,
                    "health_port": health.port,
                },
            )
            background = [
                asyncio.create_task(self._report_unlogged(parts.dry_run_lines)),
                asyncio.create_task(self._count_pending(js, parts.metrics)),
            ]
            stack.push_async_callback(_cancelled, background)
            reconciling = await self._reconciling(stack, parts, kv)
            self._consumer = Consumer(
                feed, handler, queue, w.concurrency, self._stop, keep_alive_seconds=w.ack_wait_seconds / 3
            )
            budget = w.drain_seconds - CLOSE_BUDGET_SECONDS
            # A consume that fails leaves its handlers to this (a drained one finds nothing left to do).
            stack.push_async_callback(self._consumer.finish, budget)
            await self._consumer.consume()
            stopped_at = time.monotonic()
            await _cancelled(reconciling)  # no pass starts or goes on once stopping
            naked = await self._consumer.finish(budget)
            # The open pull request ends within its expiry; what it still brings goes back at once.
            await feed.stop(PULL_EXPIRES_SECONDS)
            naked += await self._consumer.nak_queued()
            await _cancelled(background)
            parts.dry_run_lines.report()
            log.info(
                "worker stopped",
                extra={
                    **handler.summary(),
                    "nak_on_shutdown": naked,
                    "shutdown_seconds": round(time.monotonic() - stopped_at, 3),
                },
            )
        return self._exit_code

    async def _connect(self) -> Client | None:
        w = self._settings.worker

        async def on_closed() -> None:
            # Closed for good (the client stops reconnecting after some server errors): exit non-zero,
            # so Docker, Compose or Kubernetes restarts the worker instead of it idling unhealthy.
            if not self._stop.is_set():
                log.error("nats connection closed for good; exiting so the worker is restarted")
                self._exit_code = 1
                self._stop.set()

        shown_url = without_credentials(w.nats_url)
        try:
            return await connect_nats(
                self._settings, "naver-sms-worker", stop=self._stop, on_closed=on_closed
            )
        except StoppedConnecting:
            log.info("stopped while connecting to NATS", extra={"nats_url": shown_url})
            return None
        except NotConnected as err:
            log.error(
                "cannot connect to NATS",
                extra={
                    "nats_url": shown_url,
                    "within_seconds": w.connect_seconds,
                    "error_type": error_type(err),
                    "error": str(err),
                },
            )
            self._exit_code = 1
            return None

    @staticmethod
    async def _reconciling(
        stack: contextlib.AsyncExitStack, parts: WorkerComposition, kv: KeyValue
    ) -> list[asyncio.Task[None]]:
        """The reconciler's timer as a task the stack cancels (before it closes SENS's reader and the
        connection), or none on a dry run."""
        loop = parts.reconcile_loop(kv)
        if loop is None:
            return []
        stack.push_async_callback(loop.reconciler.messages.close)
        task = [asyncio.create_task(loop.run())]
        stack.push_async_callback(_cancelled, task)
        return task

    @staticmethod
    async def _report_unlogged(lines: LineBudget) -> None:
        while True:
            await asyncio.sleep(UNLOGGED_REPORT_SECONDS)
            lines.report()

    async def _count_pending(self, js: JetStreamContext, metrics: WorkerMetrics) -> None:
        """The backlog, from the consumer's info every few seconds: a scrape never waits on NATS."""
        w = self._settings.worker
        while True:
            with contextlib.suppress(Exception):  # keep the last count through a reconnect
                metrics.pending.set((await js.consumer_info(w.stream, w.durable)).num_pending or 0)
            await asyncio.sleep(PENDING_REFRESH_SECONDS)

    async def _on_exhausted(self, handler: EventHandler, advisory: Msg) -> None:
        try:
            await handler.dead_letter_exhausted(advisory.data)
        except Exception:
            log.exception("an event past its max deliveries could not be dead-lettered")

    async def _close(self) -> None:
        # Acks are sent without waiting; flush so every one reaches the server, then close.
        # (drain() of a pull subscription waits on its internal queue past our budget.)
        # A close of ours is a stop, not the connection lost for good (on_closed's error and exit code).
        self._stop.set()
        if self._nc is None or self._nc.is_closed:
            return
        with contextlib.suppress(asyncio.TimeoutError, nats.errors.Error):
            await self._nc.flush(timeout=CLOSE_BUDGET_SECONDS)
        await self._nc.close()


async def _cancelled(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until they have ended (asyncio.wait: their cancellation is not raised
    here, a cancellation of the caller is). Cancelled again while any is still running: Python 3.11's
    asyncio.wait_for, which nats-py's requests use, can swallow a cancellation that lands as its reply
    arrives (gh-86296), and the task would then loop on for ever."""
    running = [task for task in tasks if not task.done()]
    while running:
        for task in running:
            task.cancel()
        await asyncio.wait(running, timeout=CANCEL_AGAIN_SECONDS)
        running = [task for task in running if not task.done()]
