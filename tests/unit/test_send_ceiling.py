"""The worker's send ceiling on a fake clock: `limit` turns in any window pass at once, the next waits
(first come, first served) until the oldest ages out; a wait cancelled takes nothing; a turn given back
frees room at once; the operator's line comes at most once a window."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import pytest

from naver_sms.application.send_ceiling import SendCeiling

START = 1_000.0
WINDOW = 60.0


@dataclass
class FakeTime:
    """The ceiling's clock and sleep: a sleep moves the clock on at once, and says how long it was."""

    now: float = START
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def forever(seconds: float) -> None:
    """A sleep that never ends on its own: only a turn given back (or a cancel) ends the wait."""
    await asyncio.Event().wait()


def ceiling(limit: int, time: FakeTime, **options: object) -> SendCeiling:
    return SendCeiling(limit, window_seconds=WINDOW, clock=time, sleep=time.sleep, **options)  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_the_limit_passes_at_once_and_the_next_waits_until_the_oldest_ages_out() -> None:
    time, deferred = FakeTime(), []
    limit = ceiling(3, time, on_deferred=lambda: deferred.append(time.now))

    async def takes() -> list[float]:
        stamps = []
        for offset in (0.0, 10.0, 20.0, 30.0, 30.0):
            time.now = max(time.now, START + offset)
            stamps.append(await limit.take())
        return stamps

    stamps = asyncio.run(takes())
    # Three in the first minute at once; the fourth when the first (at +0) ages out, the fifth when the
    # second (at +10) does.
    assert stamps == [START, START + 10, START + 20, START + WINDOW, START + 10 + WINDOW]
    assert time.slept == [WINDOW - 30, 10.0]
    assert deferred == [START + 30, START + WINDOW]
    assert (limit.deferred, limit.waiting, limit.in_window()) == (2, 0, 3)


def test_waiters_get_their_turns_in_the_order_they_came() -> None:
    time = FakeTime()
    limit = ceiling(2, time)

    async def many() -> list[tuple[str, float]]:
        order: list[tuple[str, float]] = []

        async def one(name: str) -> None:
            order.append((name, await limit.take()))

        await asyncio.gather(*(one(name) for name in "abcdef"))
        return order

    order = asyncio.run(many())
    assert order == [
        ("a", START),
        ("b", START),
        ("c", START + WINDOW),
        ("d", START + WINDOW),
        ("e", START + 2 * WINDOW),
        ("f", START + 2 * WINDOW),
    ]


def test_no_window_ever_holds_more_than_the_limit() -> None:
    time = FakeTime()
    limit = ceiling(5, time)

    async def burst() -> list[float]:
        return list(await asyncio.gather(*(limit.take() for _ in range(23))))

    stamps = sorted(asyncio.run(burst()))
    assert len(stamps) == 23
    for i, stamp in enumerate(stamps):
        assert sum(1 for other in stamps[i:] if other < stamp + WINDOW) <= 5


@pytest.mark.parametrize("place", ["first in line", "behind another"])
def test_a_wait_cancelled_takes_nothing_and_frees_nothing_it_did_not_take(place: str) -> None:
    time = FakeTime()
    limit = SendCeiling(1, window_seconds=WINDOW, clock=time, sleep=forever)

    async def cancelled() -> None:
        await limit.take()  # the window is full
        ahead = asyncio.create_task(limit.take()) if place == "behind another" else None
        await settle()
        waiting = asyncio.create_task(limit.take())
        await settle()
        assert limit.waiting == (2 if ahead else 1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert limit.waiting == (1 if ahead else 0)
        assert limit.in_window() == 1, "the turn taken before is still counted"
        if ahead is not None:
            ahead.cancel()
            with pytest.raises(asyncio.CancelledError):
                await ahead
        assert (limit.waiting, limit.in_window(), limit.full()) == (0, 1, True)

    asyncio.run(cancelled())


def test_a_turn_given_back_frees_room_at_once_for_the_first_waiter() -> None:
    time = FakeTime()
    limit = SendCeiling(1, window_seconds=WINDOW, clock=time, sleep=forever)

    async def given_back() -> float:
        stamp = await limit.take()
        waiting = asyncio.create_task(limit.take())
        await settle()
        assert not waiting.done()
        limit.give_back(stamp)  # nothing went out under it
        return await asyncio.wait_for(waiting, 1)

    assert asyncio.run(given_back()) == START
    assert limit.in_window() == 1


def test_a_turn_given_back_after_it_aged_out_changes_nothing() -> None:
    time = FakeTime()
    limit = ceiling(1, time)

    async def late() -> None:
        old = await limit.take()
        time.now += WINDOW
        await limit.take()
        limit.give_back(old)
        assert limit.in_window() == 1

    asyncio.run(late())


def test_the_operators_line_comes_at_most_once_a_window_while_sends_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    time = FakeTime()
    limit = ceiling(1, time)
    seen: list[float] = []

    async def backlog() -> None:
        await limit.take()
        await asyncio.gather(*(limit.take() for _ in range(3)))  # at +60, +120, +180

    class Times(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            seen.append(time.now)
            return True

    logger = logging.getLogger("naver_sms.application.send_ceiling")
    logger.addFilter(times := Times())
    try:
        asyncio.run(backlog())
    finally:
        logger.removeFilter(times)
    lines = [r for r in caplog.records if r.getMessage() == "send ceiling reached"]
    assert all(r.levelno == logging.WARNING for r in lines)
    # One line as the first send waits, then one a window while any still waits, each counting the
    # sends deferred since the previous line and those waiting now.
    assert seen == [START, START + WINDOW, START + 2 * WINDOW, START + 3 * WINDOW]
    assert [(r.__dict__["deferred"], r.__dict__["waiting"]) for r in lines] == [
        (1, 1),
        (2, 3),
        (0, 2),
        (0, 1),
    ]
    assert {(r.__dict__["ceiling"], r.__dict__["window_seconds"]) for r in lines} == {(1, WINDOW)}


def test_a_ceiling_needs_a_limit_and_a_window() -> None:
    with pytest.raises(ValueError, match="limit >= 1"):
        SendCeiling(0)
    with pytest.raises(ValueError, match="a window > 0"):
        SendCeiling(1, window_seconds=0)
