"""The rule "the confirm does not hold a send slot", kept by structure: every path out of a send gives its
slot back exactly once, and what follows the send (confirm, release, mark) never keeps another message
from sending."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from naver_sms.application.delivery import Deliverer, Outcome
from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim
from naver_sms.application.send_ceiling import SendCeiling
from naver_sms.domain.messages import PlannedMessage
from tests.support.fakes import (
    Answer,
    FakeSentLog,
    FakeTransport,
    accepted,
    crashes,
    not_delivered,
    refused,
    unknown,
)

NOW = 1_800_000_000.0
LEASE = 120.0
FIRST = PlannedMessage("reminder", "bk-1", "01012345678", "김님, 내일 10:00 커트", "k" * 40)
SECOND = PlannedMessage("reminder", "bk-2", "01012345679", "박님, 내일 11:00 커트", "m" * 40)
ANSWERS: dict[str, tuple[Answer, Outcome]] = {
    "accepted": (accepted, Outcome.SENT),
    "not delivered": (not_delivered(), Outcome.RETRY),
    "refused": (refused, Outcome.REFUSED),
    "unknown": (unknown, Outcome.UNKNOWN),
    "transport bug": (crashes, Outcome.UNKNOWN),
}


def deliverer(transport: object, log: object, slots: asyncio.Semaphore) -> Deliverer:
    return Deliverer(
        transport=transport,  # type: ignore[arg-type]
        sent_log=log,  # type: ignore[arg-type]
        lease_seconds=LEASE,
        dry_run=False,
        send_slots=slots,
        clock=lambda: NOW,
    )


class HeldAfterTheSend(FakeSentLog):
    """The first message's confirm, release or mark waits until the test lets it go: whatever follows a
    send, however slow, must not hold the slot."""

    def __init__(self) -> None:
        super().__init__()
        self.after_send = asyncio.Event()
        self.let_go = asyncio.Event()

    async def _held(self, message: PlannedMessage) -> None:
        if message is FIRST:
            self.after_send.set()
            await self.let_go.wait()

    async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        await self._held(message)
        await super().confirm(message, provider_id)

    async def release(self, message: PlannedMessage, claim: Claim) -> None:
        await self._held(message)
        await super().release(message, claim)

    async def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        await self._held(message)
        return await super().mark_unknown(message, previous, reason)


@pytest.mark.parametrize("name", ANSWERS)
def test_what_follows_a_send_does_not_stop_the_next_message_sending(name: str) -> None:
    answer, outcome = ANSWERS[name]

    async def two() -> None:
        # Bounded: a slot given back twice raises; one never given back leaves it locked.
        slots, log = asyncio.BoundedSemaphore(1), HeldAfterTheSend()
        transport = FakeTransport(answer=lambda m: answer(m) if m is FIRST else accepted(m))
        core = deliverer(transport, log, slots)
        first = asyncio.create_task(core.deliver(FIRST))
        await asyncio.wait_for(log.after_send.wait(), 5)
        second = await asyncio.wait_for(core.deliver(SECOND), 5)  # a held slot would stop it here
        assert second.outcome is Outcome.SENT and transport.sent == [FIRST, SECOND]
        log.let_go.set()
        assert (await first).outcome is outcome
        assert not slots.locked()

    asyncio.run(two())


class ClaimFails(FakeSentLog):
    async def claim(self, message: PlannedMessage, now: float) -> tuple[Claim, bool]:
        raise SentLogError("the store went away")


def outcome_of(transport: object, log: FakeSentLog, slots: asyncio.Semaphore) -> object:
    async def once() -> object:
        try:
            return (await deliverer(transport, log, slots).deliver(FIRST)).outcome
        except SentLogError as err:
            return type(err)

    return asyncio.run(once())


@pytest.mark.parametrize("name", ANSWERS)
def test_every_answer_gives_the_slot_back_exactly_once(name: str) -> None:
    slots = asyncio.BoundedSemaphore(1)
    assert outcome_of(FakeTransport(ANSWERS[name][0]), FakeSentLog(), slots) is ANSWERS[name][1]
    assert not slots.locked()


def test_no_send_gives_the_slot_back_exactly_once() -> None:
    slots, log = asyncio.BoundedSemaphore(1), FakeSentLog()
    log.planted(FIRST, "worker:other:1", NOW)
    assert outcome_of(FakeTransport(), log, slots) is Outcome.IN_FLIGHT
    assert outcome_of(FakeTransport(), ClaimFails(), slots) is SentLogError
    assert not slots.locked()


def test_a_turn_is_kept_only_when_the_sms_may_have_gone_out() -> None:
    kept = {}
    for name, (answer, _) in ANSWERS.items():
        ceiling = SendCeiling(5)
        core = deliverer(FakeTransport(answer), FakeSentLog(), asyncio.BoundedSemaphore(1))
        asyncio.run(dataclasses.replace(core, send_ceiling=ceiling).deliver(FIRST))
        kept[name] = ceiling.in_window()
    assert kept == {"accepted": 1, "not delivered": 0, "refused": 0, "unknown": 1, "transport bug": 1}
