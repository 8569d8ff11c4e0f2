"""The worker's reconciler on its timer (entrypoints/worker/reconcile_loop.py), as its root builds it
(bootstrap/worker_image.WorkerComposition.reconcile_loop), over small honest fakes: the sent log's real
lifecycle over a dict, SENS's record in a list, a clock the test moves and a sleep that returns at once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from naver_sms.adapters.sent_log import Fields
from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import ClaimState, HandsetResult, Processing, SentMessage
from naver_sms.bootstrap.worker_image import WorkerComposition
from naver_sms.domain.messages import PlannedMessage, SentBy
from naver_sms.entrypoints.worker.reconcile_loop import ReconcileLoop
from naver_sms.entrypoints.worker.service import Worker, _cancelled
from tests.support.fakes import FakeClock, FakeSentLog, FakeSentMessages, FakeTransport, MemoryRecords
from tests.support.roots import unit_settings

NOW = float(int(time.time())) + 3_600  # past every delay: a claim made now is an hour old to the reconciler
PHONE = "01012345678"
TEXT = "내일 3시 예약입니다"
DAY = 86_400.0


def message(n: int = 1, phone: str = PHONE) -> PlannedMessage:
    until = datetime.fromtimestamp(NOW + DAY, UTC)  # its rule's window open a day more: a release's case
    return PlannedMessage(
        "confirmation", f"bk-{n}", phone, TEXT, f"{n:040d}", send_until=until, sent_by=SentBy.EVENTS
    )


class Stop(Exception):
    """Ends a loop's run from its sleep, after the passes a test asked for."""


@dataclass
class Sleeps:
    passes: int  # the sleeps to return from: the first pass's wait, then one per pass but the last
    slept: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if len(self.slept) > self.passes:
            raise Stop
        await asyncio.sleep(0)


@dataclass
class World:
    clock: FakeClock = field(default_factory=lambda: FakeClock(NOW))
    log: FakeSentLog = field(default_factory=FakeSentLog)
    sens: FakeSentMessages = field(init=False)

    def __post_init__(self) -> None:
        self.sens = FakeSentMessages(self.clock)

    def parts(self, **env: str) -> WorkerComposition:
        return WorkerComposition(
            unit_settings(**env), transport=FakeTransport(), sent_messages=self.sens, clock=self.clock
        )

    def loop(self, **env: str) -> ReconcileLoop:
        loop = self.parts(**env).reconcile_loop(self.log.records)
        assert loop is not None
        return loop

    def unknown(self, planned: PlannedMessage) -> float:
        """A send whose answer was lost, marked unknown and reported a while ago: its claim's time."""

        async def plant() -> float:
            claim, _ = await self.log.claim(planned, time.time())
            assert await self.log.mark_unknown(planned, claim, "SENS answered HTTP 503")
            await self.log.reported(planned.idempotency_key)
            return claim.at

        return asyncio.run(plant())

    def state(self, planned: PlannedMessage) -> ClaimState | None:
        return self.log.state(planned)


def counted(loop: ReconcileLoop, outcome: str) -> float:
    value = loop.metrics.registry.get_sample_value("naver_sms_worker_reconciled_total", {"outcome": outcome})
    return value or 0.0


def passes(loop: ReconcileLoop, result: str) -> float:
    value = loop.metrics.registry.get_sample_value(
        "naver_sms_worker_reconcile_passes_total", {"result": result}
    )
    return value or 0.0


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record's message and fields, as a JSON line would carry them."""
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


def test_a_pass_resolves_an_unknown_that_sens_has_and_counts_it(caplog: pytest.LogCaptureFixture) -> None:
    world, planned = World(), message()
    at = world.unknown(planned)
    sent = world.sens.accept(PHONE, TEXT, at + 1)
    loop = world.loop()
    with caplog.at_level(logging.INFO):
        result = asyncio.run(loop.one_pass())
    assert result is not None and result.counts()["resolved_sent"] == 1
    held = world.log.held(planned)
    assert held is not None and (held.state, held.provider_id) == (ClaimState.SENT, sent.request_id)
    assert counted(loop, "resolved_sent") == 1 and passes(loop, "done") == 1
    assert loop.metrics.registry.get_sample_value("naver_sms_worker_reconcile_last_pass_timestamp_seconds")
    line = next(r for r in caplog.records if r.getMessage() == "reconcile pass")
    assert (line.resolved_sent, line.resend_not_found, line.cut) == (1, False, False)  # type: ignore[attr-defined]
    assert PHONE not in logged(caplog)


def test_the_worker_never_releases_a_not_found_unknown_whatever_the_setting() -> None:
    """Its event was settled when the send became unknown: a release would never be sent again."""
    world, planned = World(), message()
    world.unknown(planned)  # SENS lists nothing: never accepted, its rule's window open a day more
    loop = world.loop(RECONCILE_RESEND_NOT_FOUND="true")
    assert loop.reconciler.settings.resend_not_found is False
    result = asyncio.run(loop.one_pass())
    assert result is not None and (len(result.released), len(result.still_unknown)) == (0, 1)
    held = world.log.held(planned)
    assert held is not None and held.state is ClaimState.UNKNOWN
    assert "not sent again automatically" in held.note and "not sent by the scheduled run" in held.note
    assert counted(loop, "still_unknown") == 1 and counted(loop, "released") == 0


def test_a_handset_failure_is_alerted_once_with_the_phone_masked(caplog: pytest.LogCaptureFixture) -> None:
    world, planned = World(), message()
    failed = HandsetResult("3018", False, "unreachable", "SKT")
    sent = world.sens.accept(PHONE, TEXT, time.time(), Processing.COMPLETED, result=failed)
    asyncio.run(world.log.claim(planned, time.time()))
    asyncio.run(world.log.confirm(planned, sent.request_id))
    loop = world.loop()
    with caplog.at_level(logging.INFO):
        asyncio.run(loop.one_pass())
        asyncio.run(loop.one_pass())  # FAILED is not listed again: no second alert
    alerts = [r for r in caplog.records if r.getMessage() == "sms not delivered to the handset"]
    assert [(r.levelno, r.phone) for r in alerts] == [(logging.WARNING, "010****5678")]  # type: ignore[attr-defined]
    assert world.state(planned) is ClaimState.FAILED
    assert counted(loop, "handset_failed") == 1 and passes(loop, "done") == 2
    assert PHONE not in logged(caplog)


@dataclass
class FailingScans:
    """The records over `inner`, their first `failing` listings failing with a phone in the error's text
    (an error's text may carry one)."""

    inner: MemoryRecords
    failing: int
    error: Exception

    async def scan(self) -> AsyncIterator[tuple[str, Fields]]:
        if self.failing:
            self.failing -= 1
            raise self.error
        async for item in self.inner.scan():
            yield item

    async def read(self, key: str) -> tuple[Fields, str] | None:
        return await self.inner.read(key)

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        return await self.inner.replace(key, fields, revision)

    async def create(self, key: str, fields: Fields) -> str:
        return await self.inner.create(key, fields)

    async def delete(self, key: str, revision: str) -> None:
        await self.inner.delete(key, revision)

    async def put(self, key: str, fields: Fields) -> str:
        return await self.inner.put(key, fields)


@pytest.mark.parametrize(
    "error",
    [
        SentLogError(f"JetStream KV: TimeoutError listing, near {PHONE}"),
        TimeoutError(f"a fault's own timeout, not the pass's cap, near {PHONE}"),
    ],
    ids=type,
)
def test_a_failing_pass_is_logged_and_the_next_interval_tries_again(
    caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    world, planned = World(), message()
    at = world.unknown(planned)
    world.sens.accept(PHONE, TEXT, at + 1)
    loop = world.parts().reconcile_loop(FailingScans(world.log.records, failing=1, error=error))
    assert loop is not None
    loop.sleep = sleeps = Sleeps(passes=2)
    with caplog.at_level(logging.INFO), pytest.raises(Stop):
        asyncio.run(loop.run())
    assert sleeps.slept == [loop.first_pass_seconds, loop.interval_seconds, loop.interval_seconds]
    assert (passes(loop, "failed"), passes(loop, "done")) == (1, 1)
    assert world.state(planned) is ClaimState.SENT  # the second pass did it
    failure = next(r for r in caplog.records if r.getMessage().startswith("reconcile pass failed"))
    assert (failure.levelno, failure.error_type) == (logging.WARNING, type(error).__name__)  # type: ignore[attr-defined]
    assert PHONE not in logged(caplog)


@dataclass
class HangingSens(FakeSentMessages):
    """SENS that takes a list request and never answers it."""

    asked: asyncio.Event = field(default_factory=asyncio.Event)

    async def in_window(self, start: datetime, end: datetime) -> list[SentMessage]:
        self.asked.set()
        await asyncio.Event().wait()
        return []


def test_a_stop_cancels_a_pass_and_leaves_the_record_as_it_was(caplog: pytest.LogCaptureFixture) -> None:
    world, planned = World(), message()
    world.sens = HangingSens(world.clock)
    world.unknown(planned)
    before = world.log.held(planned)
    loop = world.loop()
    loop.first_pass_seconds = 0

    async def stopped_mid_pass() -> asyncio.Task[None]:
        task = asyncio.create_task(loop.run())
        await asyncio.wait_for(world.sens.asked.wait(), 5)  # type: ignore[attr-defined]
        await _cancelled([task])  # as the worker's stop does
        return task

    with caplog.at_level(logging.INFO):
        task = asyncio.run(stopped_mid_pass())
    assert task.cancelled()
    assert world.log.held(planned) == before
    assert passes(loop, "done") + passes(loop, "cut") + passes(loop, "failed") == 0
    assert not [r for r in caplog.records if r.getMessage().startswith("reconcile pass")]


def test_a_pass_whose_sens_read_outlasts_its_time_is_cut_and_the_record_stays_unknown() -> None:
    world, planned = World(), message()
    world.sens = HangingSens(world.clock)
    world.unknown(planned)
    before = world.log.held(planned)
    loop = world.loop()
    loop.reconciler.settings = dataclasses.replace(loop.reconciler.settings, budget_seconds=0.05)
    loop.cap_grace_seconds = 0.05
    started = time.monotonic()
    result = asyncio.run(loop.one_pass())
    assert time.monotonic() - started < 2
    assert result is not None and passes(loop, "cut") == 1
    after = world.log.held(planned)
    assert after is not None and before is not None
    assert (after.state, after.fingerprint) == (before.state, before.fingerprint)  # unknown, unmoved
    assert "time ran out" in after.note


def test_a_dry_run_has_no_reconciler_and_starts_no_timer() -> None:
    world = World()
    parts = world.parts(SMS_DRY_RUN="true")
    assert parts.reconcile_loop(world.log.records) is None

    async def started() -> list[asyncio.Task[None]]:
        async with contextlib.AsyncExitStack() as stack:
            return await Worker._reconciling(stack, parts, world.log.records)  # type: ignore[arg-type]

    assert asyncio.run(started()) == []
