"""A ceiling on real sends: at most `limit` in any sliding window (a minute), the rest WAIT their turn.

A bad rule edit or a replayed stream must not turn into thousands of SMS in minutes, and none of them may
be lost either. So a send over the ceiling is never refused, failed, nak'ed or dropped: it waits in the
process, first come first served, until the oldest send in the window ages out. The worker's Deliverer
takes a turn here after its send slot and before its claim, so a claim's lease never covers this wait,
and gives the turn back when nothing went out under it (the claim was someone else's, or the provider
answered "not sent"); a send that may have gone out keeps it. Dry runs never come here.

Why wait in the process rather than nak the event with a delay: JetStream counts every redelivery against
max_deliver, and the settlement's last delivery gives up what is still waiting. A long backlog would burn
an event's deliveries and end in "gave up": an SMS lost. A waiting event is kept in progress instead (the
handler marks it every ACK_WAIT_SECONDS / 3; the consumer marks what waits in its queue), so a wait costs no
delivery however long it lasts, and the handlers it occupies stop the feed pulling more: memory stays
bounded by the queue and the handlers.

What an operator sees: each send that had to wait counts once (`on_deferred`, the worker's
`naver_sms_worker_sends_deferred_total`), `waiting` is how many wait now (`naver_sms_worker_sends_waiting`),
and a WARNING line "send ceiling reached", at most once a window while sends wait, gives the ceiling, the
sends deferred since the previous line and those waiting now.

Pure apart from asyncio: the clock and the sleep are injected, so tests run a window in no time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0


def _nothing() -> None:
    return None


class SendCeiling:
    """At most `limit` turns in any `window_seconds`; `take` waits (FIFO) for one, `give_back` returns one
    under which nothing was sent."""

    def __init__(
        self,
        limit: int,
        *,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_deferred: Callable[[], None] = _nothing,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError(
                f"a send ceiling needs limit >= 1 and a window > 0, not {limit}/{window_seconds}"
            )
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._on_deferred = on_deferred
        self._taken: deque[float] = deque()  # when each turn in the window was taken, oldest first
        self._turn = asyncio.Lock()  # FIFO: the first waiter waits for the window, the rest for it
        self._returned = asyncio.Event()  # a turn was given back: the first waiter looks again
        self.waiting = 0  # takes that have had to wait and have not got their turn yet
        self.deferred = 0  # takes that have had to wait, ever
        self._deferred_since_line = 0
        self._last_line: float | None = None

    def in_window(self) -> int:
        """Turns taken within the last window and not given back."""
        return self.limit - self._room(self._clock())

    def full(self) -> bool:
        """Whether a take now would wait."""
        return self.waiting > 0 or self._room(self._clock()) <= 0

    async def take(self) -> float:
        """A turn: at once when the window has room and nobody waits, else after those ahead. Returns the
        turn's stamp, for `give_back`. Cancelled while waiting, it has taken nothing."""
        if self.waiting == 0 and self._room(self._clock()) > 0:
            return self._stamp()
        self.waiting += 1
        self.deferred += 1
        self._deferred_since_line += 1
        self._on_deferred()
        try:
            self._report(self._clock())
            async with self._turn:
                while (wait := self._wait_seconds()) > 0:
                    await self._until_returned(wait)
                    self._report(self._clock())
                return self._stamp()
        finally:
            self.waiting -= 1

    def give_back(self, stamp: float) -> None:
        """Nothing was sent under this turn: it no longer counts (if it still did)."""
        with contextlib.suppress(ValueError):
            self._taken.remove(stamp)
            self._returned.set()

    def _room(self, now: float) -> int:
        while self._taken and self._taken[0] <= now - self.window_seconds:
            self._taken.popleft()
        return self.limit - len(self._taken)

    def _wait_seconds(self) -> float:
        now = self._clock()
        if self._room(now) > 0:
            return 0.0
        return self._taken[0] + self.window_seconds - now

    def _stamp(self) -> float:
        stamp = self._clock()
        self._taken.append(stamp)
        return stamp

    async def _until_returned(self, seconds: float) -> None:
        """Sleep `seconds`, or less if a turn is given back meanwhile."""
        self._returned.clear()
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        returned = asyncio.ensure_future(self._returned.wait())
        try:
            await asyncio.wait({sleeping, returned}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            returned.cancel()

    def _report(self, now: float) -> None:
        """The operator's line: at most once a window, while sends wait."""
        if self._last_line is not None and now - self._last_line < self.window_seconds:
            return
        self._last_line = now
        log.warning(
            "send ceiling reached",
            extra={
                "ceiling": self.limit,
                "window_seconds": self.window_seconds,
                "deferred": self._deferred_since_line,
                "waiting": self.waiting,
            },
        )
        self._deferred_since_line = 0
