"""The worker's consumption: pull requests sized to the room in one queue, long-lived handler tasks taking
from it, and at a stop the queue given back and the handlers let finish inside a budget.

What waits in the queue is marked in progress like what a handler holds: while sends wait for the
per-minute ceiling (application/send_ceiling.py) the queue can wait for minutes, and an event JetStream
redelivered meanwhile would spend one of its max_deliver deliveries for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any

import nats.errors
from nats.aio.msg import Msg

from naver_sms.application.errors import error_message, error_type
from naver_sms.entrypoints.worker.handler import EventHandler
from naver_sms.entrypoints.worker.pull import PullFeed, PullRefused
from naver_sms.entrypoints.worker.topology import FETCH_BATCH

log = logging.getLogger("naver_sms.worker")

PULL_EXPIRES_SECONDS = 0.5  # an idle worker sends one small pull request per this
PULL_RETRY_SECONDS = 0.5  # after a failed or refused pull
HANDLERS_PER_SEND_SLOT = 2


class HeldQueue(asyncio.Queue[Msg]):
    """The handlers' queue, whose waiting messages can be listed (to keep them alive)."""

    def _init(self, maxsize: int) -> None:
        self._queue: deque[Msg] = deque()  # asyncio.Queue's own storage, as its subclasses name it

    def held(self) -> list[Msg]:
        return list(self._queue)


class Consumer:
    def __init__(
        self,
        feed: PullFeed,
        handler: EventHandler,
        queue: HeldQueue,
        concurrency: int,
        stop: asyncio.Event,
        *,
        keep_alive_seconds: float,
    ) -> None:
        self._feed = feed
        self._handler = handler
        self._queue = queue  # the pull requests keep it to FETCH_BATCH
        self._keep_alive_seconds = keep_alive_seconds  # as the handler's: a third of ack_wait
        self._concurrency = concurrency
        self._stop = stop
        self.consuming = False
        self._inflight: set[asyncio.Task[None]] = set()  # the long-lived handler tasks
        self._room = asyncio.Event()  # set when the handlers have taken half the queue
        self._busy = 0  # handlers in the middle of an event

    async def consume(self) -> None:
        """Pull requests sized to the room in the queue, fed to long-lived handlers: the batch does not
        shrink with the free handlers, and no task is made per message. There are more handlers than
        send slots, so an event's record and ack never keep the next one from its send."""
        for _ in range(HANDLERS_PER_SEND_SLOT * self._concurrency):
            worker = asyncio.create_task(self._work())
            self._inflight.add(worker)
            worker.add_done_callback(self._inflight.discard)
        self.consuming = True
        keeping = asyncio.create_task(self._keep_queued_alive())
        try:
            while not self._stop.is_set():
                room = FETCH_BATCH - self._queue.qsize()
                if room < FETCH_BATCH // 2:
                    self._room.clear()
                    await self._until_stopped(self._room.wait())
                    continue
                try:
                    await self._until_stopped(self._feed.pull(room, PULL_EXPIRES_SECONDS))
                except (PullRefused, nats.errors.Error, OSError) as err:
                    log.warning(
                        "pull failed; retrying",
                        extra={"error_type": error_type(err), "error": error_message(err)},
                    )
                    await self._until_stopped(asyncio.sleep(PULL_RETRY_SECONDS))
        finally:
            self.consuming = False
            keeping.cancel()

    async def _keep_queued_alive(self) -> None:
        """Mark in progress what has waited in the queue since the previous look: within two periods
        (two thirds of ack_wait) of its delivery, then every period; a queue that moves costs nothing."""
        seen: dict[int, Msg] = {}
        while True:
            await asyncio.sleep(self._keep_alive_seconds)
            now = {id(msg): msg for msg in self._queue.held()}
            for key in now.keys() & seen.keys():
                with contextlib.suppress(Exception):  # a lost connection costs an early redelivery
                    await now[key].in_progress()
            seen = now

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

    async def _work(self) -> None:
        while True:
            msg = await self._queue.get()
            if self._queue.qsize() < FETCH_BATCH // 2:
                self._room.set()
            self._busy += 1
            try:
                await self._handle(msg)
            finally:
                self._busy -= 1

    async def _handle(self, msg: Msg) -> None:
        try:
            await self._handler.handle(msg)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()
            raise
        except Exception as err:
            log.exception("handling failed", extra={"error_type": error_type(err)})
            with contextlib.suppress(Exception):
                await self._handler.handle_failure(msg, err)

    async def finish(self, budget: float) -> int:
        """Nak what was fetched but not started (another worker takes it at once), let handlers finish
        inside the budget, then cancel them: a cancelled handler naks its event. Returns the naks."""
        waiting = await self.nak_queued()
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

    async def nak_queued(self) -> int:
        # Taken off the queue before the first await, so no handler starts one of them meanwhile.
        waiting = []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for msg in waiting:
            with contextlib.suppress(Exception):
                await msg.nak()
        return len(waiting)
