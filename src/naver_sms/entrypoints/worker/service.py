"""The worker's life cycle: connect, consume with bounded concurrency, shut down inside the drain budget.

Signal handlers only set an event; one AsyncExitStack owns the connection, the health server and the
thread pool, so everything is closed in reverse order however the run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Coroutine
from datetime import datetime
from functools import partial
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from naver_sms.bootstrap.worker_image import WorkerComposition
from naver_sms.entrypoints.worker.handler import EventHandler
from naver_sms.entrypoints.worker.health import HealthServer
from naver_sms.entrypoints.worker.pull import PullFeed, PullRefused
from naver_sms.entrypoints.worker.topology import (
    FETCH_BATCH,
    dedupe_bucket,
    ensure_topology,
    live_max_deliver,
)
from naver_sms.logging_setup import LineBudget
from naver_sms.settings import Settings
from naver_sms.settings.redact import without_credentials

log = logging.getLogger("naver_sms.worker")

PULL_EXPIRES_SECONDS = 0.5  # an idle worker sends one small pull request per this
PULL_RETRY_SECONDS = 0.5  # after a failed or refused pull
HANDLERS_PER_SEND_SLOT = 2
UNLOGGED_REPORT_SECONDS = 5  # how often a dry run says how many decisions it did not log one by one
CLOSE_BUDGET_SECONDS = 2  # kept back from the drain budget for draining the connection itself


class Worker:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stop = asyncio.Event()
        self._consuming = False
        self._nc: Client | None = None
        self._inflight: set[asyncio.Task[None]] = set()  # the long-lived handler tasks
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()  # the pull requests keep it to FETCH_BATCH
        self._room = asyncio.Event()  # set when the handlers have taken half the queue
        self._busy = 0  # handlers in the middle of an event
        self._exit_code = 0

    def healthy(self) -> bool:
        return self._consuming and self._nc is not None and self._nc.is_connected

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        w = self._settings.worker
        parts = WorkerComposition(self._settings)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        async with contextlib.AsyncExitStack() as stack:
            health = HealthServer(w.health_port, self.healthy)
            await health.start()
            stack.push_async_callback(health.stop)
            stack.push_async_callback(parts.transport.close)
            self._nc = await self._connect(parts.nats_connection)
            if self._nc is None:
                return self._exit_code
            stack.push_async_callback(self._close)
            js = self._nc.jetstream()
            consumer = await ensure_topology(js, w)
            feed = PullFeed(self._nc, w.stream, w.durable, self._queue)
            await feed.start()
            handler = EventHandler(
                js=js,
                settings=w,
                notifier=parts.notifier(await dedupe_bucket(js, w)),
                clock=lambda: datetime.now(parts.rules.timezone),
                max_deliver=live_max_deliver(consumer),
                max_payload=self._nc.max_payload,
            )
            await self._nc.subscribe(
                f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{w.stream}.{w.durable}",
                queue=f"{w.durable}-advisories",
                cb=partial(self._on_exhausted, handler),
            )
            log.info(
                "worker started",
                extra={
                    "nats_url": without_credentials(w.nats_url),
                    "dry_run": parts.dry_run,
                    "concurrency": w.concurrency,
                    "health_port": health.port,
                },
            )
            reporting = asyncio.create_task(self._report_unlogged(parts.dry_run_lines))
            await self._consume(feed, handler)
            stopped_at = time.monotonic()
            naked = await self._finish_inflight(w.drain_seconds - CLOSE_BUDGET_SECONDS)
            # The open pull request ends within its expiry; what it still brings goes back at once.
            await feed.stop(PULL_EXPIRES_SECONDS)
            naked += await self._nak_queued()
            reporting.cancel()
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

    async def _connect(self, connection: dict[str, Any]) -> Client | None:
        """Connect within CONNECT_SECONDS, or give up with the last error; SIGTERM ends the wait at once.
        nats-py retries a refused or rejected first connection on its own, so the deadline is ours."""
        w = self._settings.worker
        shown_url = without_credentials(w.nats_url)
        last_error: list[str] = []

        async def on_disconnect() -> None:
            log.warning("nats disconnected")

        async def on_reconnect() -> None:
            log.info("nats reconnected")

        async def on_error(err: Exception) -> None:
            last_error[:] = [f"{type(err).__name__}: {err}"]
            log.warning("nats error", extra={"error": last_error[0]})

        async def on_closed() -> None:
            # Closed for good (the client stops reconnecting after some server errors): exit non-zero,
            # so Docker, Compose or Kubernetes restarts the worker instead of it idling unhealthy.
            if not self._stop.is_set():
                log.error("nats connection closed for good; exiting so the worker is restarted")
                self._exit_code = 1
                self._stop.set()

        connecting = asyncio.ensure_future(
            nats.connect(
                name="naver-sms-worker",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=5,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                error_cb=on_error,
                closed_cb=on_closed,
                **connection,
            )
        )
        stopping = asyncio.ensure_future(self._stop.wait())
        done, _ = await asyncio.wait(
            {connecting, stopping}, timeout=w.connect_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        stopping.cancel()
        if connecting in done and connecting.exception() is None:
            return connecting.result()
        connecting.cancel()
        with contextlib.suppress(BaseException):
            await connecting
        if self._stop.is_set():
            log.info("stopped while connecting to NATS", extra={"nats_url": shown_url})
            return None
        reason = (
            last_error[-1]
            if last_error
            else (repr(connecting.exception()) if connecting in done else "no answer")
        )
        log.error(
            "cannot connect to NATS",
            extra={"nats_url": shown_url, "within_seconds": w.connect_seconds, "error": reason},
        )
        self._exit_code = 1
        return None

    async def _consume(self, feed: PullFeed, handler: EventHandler) -> None:
        """Pull requests sized to the room in the queue, fed to long-lived handlers: the batch does not
        shrink with the free handlers, and no task is made per message. There are more handlers than
        send slots, so an event's record and ack never keep the next one from its send."""
        for _ in range(HANDLERS_PER_SEND_SLOT * self._settings.worker.concurrency):
            worker = asyncio.create_task(self._work(handler))
            self._inflight.add(worker)
            worker.add_done_callback(self._inflight.discard)
        self._consuming = True
        try:
            while not self._stop.is_set():
                room = FETCH_BATCH - self._queue.qsize()
                if room < FETCH_BATCH // 2:
                    self._room.clear()
                    await self._until_stopped(self._room.wait())
                    continue
                try:
                    await self._until_stopped(feed.pull(room, PULL_EXPIRES_SECONDS))
                except (PullRefused, nats.errors.Error, OSError) as err:
                    log.warning("pull failed; retrying", extra={"error": f"{type(err).__name__}: {err}"})
                    await self._until_stopped(asyncio.sleep(PULL_RETRY_SECONDS))
        finally:
            self._consuming = False

    @staticmethod
    async def _report_unlogged(lines: LineBudget) -> None:
        while True:
            await asyncio.sleep(UNLOGGED_REPORT_SECONDS)
            lines.report()

    async def _until_stopped(self, waiting: Coroutine[Any, Any, object]) -> None:
        """Wait for `waiting`, or for a stop, whichever comes first; its errors are raised here."""
        task = asyncio.ensure_future(waiting)
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        task.result()

    async def _work(self, handler: EventHandler) -> None:
        while True:
            msg = await self._queue.get()
            if self._queue.qsize() < FETCH_BATCH // 2:
                self._room.set()
            self._busy += 1
            try:
                await self._handle(handler, msg)
            finally:
                self._busy -= 1

    async def _handle(self, handler: EventHandler, msg: Msg) -> None:
        try:
            await handler.handle(msg)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()
            raise
        except Exception as err:
            log.exception("handling failed")
            with contextlib.suppress(Exception):
                await handler.handle_failure(msg, err)

    async def _on_exhausted(self, handler: EventHandler, advisory: Msg) -> None:
        try:
            await handler.dead_letter_exhausted(advisory.data)
        except Exception:
            log.exception("an event past its max deliveries could not be dead-lettered")

    async def _finish_inflight(self, budget: float) -> int:
        """Nak what was fetched but not started (another worker takes it at once), let handlers finish
        inside the budget, then cancel them: a cancelled handler naks its event. Returns the naks."""
        waiting = await self._nak_queued()
        deadline = time.monotonic() + max(budget, 0.1)
        while self._busy and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        interrupted = self._busy
        if interrupted:
            # Their events are nak'ed; a send cut off mid-request keeps its claim, so it is reported
            # unknown once its lease ends and never sent twice.
            log.warning("stop interrupted events in progress", extra={"interrupted": interrupted})
        for worker in self._inflight:
            worker.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        return waiting + interrupted

    async def _nak_queued(self) -> int:
        # Taken off the queue before the first await, so no handler starts one of them meanwhile.
        waiting = []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for msg in waiting:
            with contextlib.suppress(Exception):
                await msg.nak()
        return len(waiting)

    async def _close(self) -> None:
        # Acks are sent without waiting; flush so every one reaches the server, then close.
        # (drain() of a pull subscription waits on its internal queue past our budget.)
        if self._nc is None or self._nc.is_closed:
            return
        with contextlib.suppress(asyncio.TimeoutError, nats.errors.Error):
            await self._nc.flush(timeout=CLOSE_BUDGET_SECONDS)
        await self._nc.close()
