"""Each row of the delivery semantics table in docs/architecture.md, against honest fakes of the ports."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest

from naver_sms.application.delivery import Deliverer, Delivery, Outcome
from naver_sms.application.dry_run import RealSendsNotAllowed, RefusingTransport, decide_dry_run
from naver_sms.application.errors import Refused, SentLogError
from naver_sms.application.notify import Notifier
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.application.send_ceiling import SendCeiling
from naver_sms.application.settlement import SettlementPolicy
from naver_sms.bootstrap import lambda_image
from naver_sms.bootstrap.worker_image import WorkerComposition
from naver_sms.domain.messages import PlannedMessage
from naver_sms.domain.rules import rules_from_mapping
from naver_sms.settings.rules import load_rules
from tests.support.fakes import (
    FakeSentLog,
    FakeTransport,
    accepted,
    crashes,
    not_delivered,
    refused,
    unknown,
)
from tests.support.roots import unit_settings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
SETTINGS = unit_settings()
LEASE = SETTINGS.sent_log.claim_lease_seconds
RULES = load_rules(SETTINGS.rules_path)  # the deliverer never reads them: read once, not per test
MESSAGE = PlannedMessage("reminder", "bk-1", "01012345678", "김님, 내일 10:00 커트", "k" * 40)


@dataclass
class At:
    """The deliverer's clock, set by the test: when its claims are written and their ages read."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Timed:
    """The one Deliverer, each delivery on an event loop of its own (as the Lambda runs it), at the
    time the test gives."""

    deliverer: Deliverer
    clock: At

    def deliver(self, message: PlannedMessage, at: float) -> Delivery:
        self.clock.now = at
        return asyncio.run(self.deliverer.deliver(message))


class Make(Protocol):
    def __call__(
        self, transport: object, log: FakeSentLog, *, dry_run: bool = False, **policy: Any
    ) -> Timed: ...


def timed(transport: object, log: FakeSentLog, *, dry_run: bool = False, **policy: Any) -> Timed:
    """The Lambda root's deliverer (one send at a time, the lease from settings) over the fakes;
    `policy` changes what the worker's root sets otherwise (its dry-run line budget)."""
    clock = At()
    notifier = lambda_image.notifier(
        SETTINGS,
        dry_run=dry_run,
        claimer="unit",
        transport=transport,  # type: ignore[arg-type]
        sent_log=log,
        rules=RULES,
        clock=clock,
    )
    return Timed(dataclasses.replace(notifier.deliverer, **policy), clock)


@pytest.fixture
def deliverer() -> Make:
    return timed


def on_this_loop(
    transport: object,
    log: object,
    *,
    at: float = NOW,
    slots: asyncio.Semaphore | None = None,
    clock: At | None = None,
    ceiling: SendCeiling | None = None,
    dry_run: bool = False,
) -> Deliverer:
    """The worker root's deliverer over the fakes, for a test that drives its own event loop: its send
    slots and ceiling the test's (one slot, no ceiling unless given), so the test can hold and watch them."""
    settings = unit_settings(SMS_DRY_RUN=str(dry_run).lower())
    parts = WorkerComposition(
        settings,
        transport=transport,  # type: ignore[arg-type]
        sent_log=log,  # type: ignore[arg-type]
        rules=RULES,
        clock=clock or At(at),
    )
    deliverer = parts.notifier(None).deliverer
    return dataclasses.replace(deliverer, send_slots=slots or asyncio.Semaphore(1), send_ceiling=ceiling)


def test_accepted_send_is_confirmed_with_the_provider_id(deliverer: Make) -> None:
    transport, log = FakeTransport(), FakeSentLog()
    delivery = deliverer(transport, log).deliver(MESSAGE, NOW)
    assert (delivery.outcome, delivery.provider_id) == (Outcome.SENT, "req-kkkkkkkk")
    assert log.state(MESSAGE) is ClaimState.SENT
    assert transport.sent == [MESSAGE]


def test_a_sent_message_is_a_duplicate_and_is_not_sent_again(deliverer: Make) -> None:
    transport, log = FakeTransport(), FakeSentLog()
    deliverer(transport, log).deliver(MESSAGE, NOW)
    again = deliverer(transport, log).deliver(MESSAGE, NOW + 3600)
    assert (again.outcome, again.provider_id) == (Outcome.DUPLICATE, "req-kkkkkkkk")
    assert len(transport.sent) == 1


def test_known_not_sent_releases_the_claim_so_a_retry_can_send(deliverer: Make) -> None:
    log = FakeSentLog()
    first = deliverer(FakeTransport(not_delivered(retry_after=1.5)), log).deliver(MESSAGE, NOW)
    assert (first.outcome, first.retry_after) == (Outcome.RETRY, 1.5)
    assert log.state(MESSAGE) is None
    transport = FakeTransport()
    assert deliverer(transport, log).deliver(MESSAGE, NOW + 2).outcome is Outcome.SENT
    assert transport.sent == [MESSAGE]


def test_refused_is_a_failure_with_the_reason_and_leaves_no_claim(deliverer: Make) -> None:
    log = FakeSentLog()
    delivery = deliverer(FakeTransport(refused), log).deliver(MESSAGE, NOW)
    assert delivery.outcome is Outcome.REFUSED
    assert delivery.as_record() == {
        "outcome": "refused",
        "idempotency_key": MESSAGE.idempotency_key,
        "rule": "reminder",
        "booking_id": "bk-1",
        "reason": "SENS refused the message: HTTP 400",
    }
    assert log.state(MESSAGE) is None


@pytest.mark.parametrize("answer", [unknown, crashes], ids=["5xx-or-timeout", "transport-bug"])
def test_a_send_that_may_have_gone_out_is_unknown_and_never_resent(answer: object, deliverer: Make) -> None:
    transport, log = FakeTransport(answer), FakeSentLog()  # type: ignore[arg-type]
    first = deliverer(transport, log).deliver(MESSAGE, NOW)
    assert first.outcome is Outcome.UNKNOWN
    assert log.state(MESSAGE) is ClaimState.UNKNOWN
    reported(log)
    retried = FakeTransport()
    for later in (NOW + 1, NOW + LEASE * 10):
        assert deliverer(retried, log).deliver(MESSAGE, later).outcome is Outcome.STILL_UNKNOWN
    assert retried.sent == []
    assert len(transport.sent) == 1


def test_a_live_claim_of_another_sender_is_in_flight_and_not_sent(deliverer: Make) -> None:
    log = FakeSentLog()
    log.planted(MESSAGE, "worker:other:7", NOW)
    transport = FakeTransport()
    delivery = deliverer(transport, log).deliver(MESSAGE, NOW + LEASE - 1)
    assert delivery.outcome is Outcome.IN_FLIGHT
    assert "worker:other:7" in delivery.reason
    assert delivery.retry_after == 2.0  # look again just after the lease ends
    assert transport.sent == []


def test_a_claim_stamped_ahead_of_this_clock_is_waited_on_for_one_lease_not_the_clocks_difference(
    deliverer: Make,
) -> None:
    # Another host's clock runs a day fast: its claim is "-86400 s" old here. The wait before looking
    # again is one lease from now, even on the delivery before the last (which waits out the lease).
    log = FakeSentLog()
    log.planted(MESSAGE, "worker:fast-clock:7", NOW + 86400)
    delivery = deliverer(FakeTransport(), log).deliver(MESSAGE, NOW)
    assert delivery.outcome is Outcome.IN_FLIGHT
    assert delivery.retry_after == LEASE + 1
    assert delivery.reason == "claimed by worker:fast-clock:7 0 s ago"
    policy = SettlementPolicy("s", "f", "dlq", nak_delay=30.0, max_deliver=5, max_payload=1 << 20)
    assert policy.settle("ev-1", [delivery], 4).delay == LEASE + 1


def test_a_second_delivery_during_a_slow_send_is_in_flight_and_sends_nothing() -> None:
    log, seen_meanwhile = FakeSentLog(), []
    other = FakeTransport()

    class Slow:
        async def send(self, message: PlannedMessage) -> str:
            # While this send hangs on the provider, a redelivery (another worker) looks at it.
            seen_meanwhile.append((await on_this_loop(other, log, at=NOW + 5).deliver(message)).outcome)
            return accepted(message)

    assert timed(Slow(), log).deliver(MESSAGE, NOW).outcome is Outcome.SENT
    assert seen_meanwhile == [Outcome.IN_FLIGHT]
    assert other.sent == []


def reported(log: FakeSentLog, message: PlannedMessage = MESSAGE) -> None:
    """What a caller does once it has reported an unknown (a run's alert, a worker's record)."""
    asyncio.run(log.reported(message.idempotency_key))


def test_an_unknown_whose_reporter_died_is_reported_by_the_next_delivery_once(deliverer: Make) -> None:
    log, transport = FakeSentLog(), FakeTransport(unknown)
    assert deliverer(transport, log).deliver(MESSAGE, NOW).outcome is Outcome.UNKNOWN
    # ... and the process is killed before its result, alert or record: nobody reported it.
    late = deliverer(FakeTransport(), log).deliver(MESSAGE, NOW + 60)
    assert late.outcome is Outcome.UNKNOWN and "never reported until now" in late.reason
    reported(log)
    assert deliverer(FakeTransport(), log).deliver(MESSAGE, NOW + 120).outcome is Outcome.STILL_UNKNOWN
    assert len(transport.sent) == 1


def test_a_stale_claim_is_reported_unknown_exactly_once(deliverer: Make) -> None:
    log = FakeSentLog()
    log.planted(MESSAGE, "worker:dead:7", NOW)  # claimed, then the process was killed
    transport = FakeTransport()
    first = deliverer(transport, log).deliver(MESSAGE, NOW + LEASE + 1)
    assert first.outcome is Outcome.UNKNOWN
    assert "worker:dead:7" in first.reason and "never confirmed" in first.reason
    reported(log)
    second = deliverer(transport, log).deliver(MESSAGE, NOW + LEASE + 2)
    assert second.outcome is Outcome.STILL_UNKNOWN
    assert transport.sent == []


class OtherReaderWinsTheRace(FakeSentLog):
    """Between this reader's claim attempt and its report, another reader reports the stale claim."""

    async def claim(self, message: PlannedMessage, now: float) -> tuple[Claim, bool]:
        held, created = await super().claim(message, now)
        if not created:
            assert await super().mark_unknown(message, held, "reported by the other reader")
        return held, created


def test_two_readers_of_one_stale_claim_report_it_once(deliverer: Make) -> None:
    log = OtherReaderWinsTheRace()
    log.planted(MESSAGE, "worker:dead:7", NOW)
    loser = deliverer(FakeTransport(), log).deliver(MESSAGE, NOW + LEASE + 1)
    assert loser.outcome is Outcome.STILL_UNKNOWN


class ConfirmFails(FakeSentLog):
    async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        raise SentLogError("the store went away")


def test_a_send_whose_confirmation_fails_is_sent_and_its_claim_later_reports_unknown(
    caplog: pytest.LogCaptureFixture, deliverer: Make
) -> None:
    log, transport = ConfirmFails(), FakeTransport()
    assert deliverer(transport, log).deliver(MESSAGE, NOW).outcome is Outcome.SENT
    assert "sms sent but not confirmed" in caplog.text
    later = deliverer(transport, log).deliver(MESSAGE, NOW + LEASE + 1)
    assert later.outcome is Outcome.UNKNOWN
    assert len(transport.sent) == 1


class MarkAnswerLost(FakeSentLog):
    """The store takes the unknown mark (or not) and its answer never arrives."""

    def __init__(self, *, stored: bool = True) -> None:
        super().__init__()
        self.stored = stored

    async def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        if self.stored:
            await super().mark_unknown(message, previous, reason)
        raise SentLogError("no answer within 5 s")


@pytest.mark.parametrize("stored", [True, False], ids=["mark-stored", "mark-not-stored"])
def test_an_unknown_send_whose_mark_is_lost_is_still_reported_and_never_resent(
    stored: bool, deliverer: Make, caplog: pytest.LogCaptureFixture
) -> None:
    log, transport = MarkAnswerLost(stored=stored), FakeTransport(unknown)
    assert deliverer(transport, log).deliver(MESSAGE, NOW).outcome is Outcome.UNKNOWN
    assert "the sent log may not have its mark" in caplog.text
    reported(log)
    # A stored mark is never reported again; one not stored is, once its lease ends: twice, never silent.
    later = deliverer(FakeTransport(), log).deliver(MESSAGE, NOW + LEASE + 1).outcome
    assert later is (Outcome.STILL_UNKNOWN if stored else Outcome.UNKNOWN)
    assert len(transport.sent) == 1


def test_a_stale_claim_whose_mark_is_lost_is_still_reported(deliverer: Make) -> None:
    log = MarkAnswerLost()
    log.planted(MESSAGE, "worker:dead:7", NOW)
    transport = FakeTransport()
    assert deliverer(transport, log).deliver(MESSAGE, NOW + LEASE + 1).outcome is Outcome.UNKNOWN
    reported(log)
    assert deliverer(transport, log).deliver(MESSAGE, NOW + LEASE + 2).outcome is Outcome.STILL_UNKNOWN
    assert transport.sent == []


def test_dry_run_sends_and_records_nothing_but_still_sees_what_was_sent(deliverer: Make) -> None:
    log = FakeSentLog()
    dry = deliverer(RefusingTransport(), log, dry_run=True)
    assert dry.deliver(MESSAGE, NOW).outcome is Outcome.DRY_RUN
    assert log.records.items == {}
    deliverer(FakeTransport(), log).deliver(MESSAGE, NOW)
    assert dry.deliver(MESSAGE, NOW).outcome is Outcome.DUPLICATE


def test_a_dry_run_decision_left_out_of_the_log_is_the_same_decision(
    caplog: pytest.LogCaptureFixture, deliverer: Make
) -> None:
    """The worker's line budget decides whether a dry-run decision gets its own line, never what the
    decision is; other outcomes are logged whatever the budget says."""
    caplog.set_level(logging.INFO)
    spent = deliverer(RefusingTransport(), FakeSentLog(), dry_run=True, dry_run_line=lambda: False)
    assert spent.deliver(MESSAGE, NOW) == Delivery.of(MESSAGE, Outcome.DRY_RUN)
    assert caplog.records == []
    sent = deliverer(FakeTransport(), FakeSentLog(), dry_run_line=lambda: False).deliver(MESSAGE, NOW)
    assert sent.outcome is Outcome.SENT
    assert [r.getMessage() for r in caplog.records] == ["sms sent"]
    caplog.clear()
    deliverer(RefusingTransport(), FakeSentLog(), dry_run=True, dry_run_line=lambda: True).deliver(
        MESSAGE, NOW
    )
    assert [r.getMessage() for r in caplog.records] == ["dry run: would send"]


def test_logs_mask_the_phone_and_never_carry_the_text(
    caplog: pytest.LogCaptureFixture, deliverer: Make
) -> None:
    caplog.set_level(logging.INFO)
    deliverer(FakeTransport(unknown), FakeSentLog()).deliver(MESSAGE, NOW)
    (record,) = [r for r in caplog.records if r.getMessage() == "sms unknown"]
    assert record.levelno == logging.ERROR
    assert record.__dict__["phone"] == "010****5678"
    logged = " ".join(str(v) for v in record.__dict__.values())
    assert "01012345678" not in logged and MESSAGE.text not in logged


@pytest.mark.parametrize(
    ("settings", "requested", "dry_run"),
    [
        (True, None, True),
        (True, True, True),
        (False, None, False),
        (False, True, True),
        (False, False, False),
    ],
)
def test_settings_are_a_ceiling_on_real_sends(settings: bool, requested: bool | None, dry_run: bool) -> None:
    assert decide_dry_run(settings, requested) is dry_run


def test_asking_for_real_sends_under_dry_run_settings_is_an_error() -> None:
    with pytest.raises(RealSendsNotAllowed, match="SMS_DRY_RUN=false"):
        decide_dry_run(True, False)


def test_the_dry_run_transport_refuses_loudly() -> None:
    with pytest.raises(AssertionError, match="dry run tried to send"):
        asyncio.run(RefusingTransport().send(MESSAGE))


def test_a_reason_quoting_the_phone_number_is_masked_in_the_record(deliverer: Make) -> None:
    def refused_with_echo(message: PlannedMessage) -> str:
        raise Refused(f"SENS refused the message: HTTP 400: invalid recipient {message.phone}")

    record = deliverer(FakeTransport(refused_with_echo), FakeSentLog()).deliver(MESSAGE, NOW).as_record()
    assert record["reason"].endswith("invalid recipient 010****5678")


class ClaimFails(FakeSentLog):
    async def claim(self, message: PlannedMessage, now: float) -> tuple[Claim, bool]:
        raise SentLogError("the store went away")


def test_a_sent_log_that_cannot_claim_stops_the_delivery_before_any_send(deliverer: Make) -> None:
    transport = FakeTransport()
    with pytest.raises(SentLogError, match="went away"):
        deliverer(transport, ClaimFails()).deliver(MESSAGE, NOW)
    assert transport.sent == []


def test_a_send_cancelled_mid_request_keeps_its_claim_so_it_is_never_resent() -> None:
    """SIGTERM's deadline cancels a send stuck on the SMS API: it may have gone out, so the claim
    stays, and once its lease ends it is reported unknown instead of sent again."""
    log, started = FakeSentLog(), asyncio.Event()

    class Stuck:
        async def send(self, message: PlannedMessage) -> str:
            started.set()
            await asyncio.Event().wait()
            raise AssertionError("never answered")

    async def cancel_mid_send() -> None:
        slots = asyncio.Semaphore(1)
        stuck = on_this_loop(Stuck(), log, slots=slots)
        sending = asyncio.create_task(stuck.deliver(MESSAGE))
        await started.wait()
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        assert not slots.locked(), "a cancelled send gives its slot back"

    asyncio.run(cancel_mid_send())
    assert log.state(MESSAGE) is ClaimState.CLAIMED
    later = timed(FakeTransport(), log).deliver(MESSAGE, NOW + LEASE + 1)
    assert later.outcome is Outcome.UNKNOWN


def test_a_send_slot_covers_the_claim_and_the_send_but_not_the_confirm() -> None:
    """One slot, two messages: the second is not claimed while the first is sending (its lease never
    covers a wait for the slot), and it claims and sends while the first is still confirming."""
    second = PlannedMessage("reminder", "bk-2", "01012345679", "박님, 내일 11:00 커트", "m" * 40)
    order: list[tuple[str, str]] = []
    answer, confirming = asyncio.Event(), asyncio.Event()
    log = FakeSentLog()

    class Gated:
        async def send(self, message: PlannedMessage) -> str:
            order.append(("send", message.booking_id))
            if message is MESSAGE:
                await answer.wait()
            return f"req-{message.booking_id}"

    class Recorded:
        async def claim(self, message: PlannedMessage, now: float) -> tuple[Claim, bool]:
            order.append(("claim", message.booking_id))
            return await log.claim(message, now)

        async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
            order.append(("confirm", message.booking_id))
            if message is MESSAGE:
                await confirming.wait()
            await log.confirm(message, provider_id)

    async def two_at_once() -> list[Delivery]:
        slots = asyncio.Semaphore(1)
        deliverer = on_this_loop(Gated(), Recorded(), slots=slots)
        first = asyncio.create_task(deliverer.deliver(MESSAGE))
        then = asyncio.create_task(deliverer.deliver(second))
        for _ in range(100):  # both tasks run as far as they can
            await asyncio.sleep(0)
        assert order == [("claim", "bk-1"), ("send", "bk-1")], "the second claimed while the first sent"
        answer.set()
        done = await asyncio.wait_for(then, 5)  # a confirm holding the slot would keep it waiting
        assert order == [
            ("claim", "bk-1"),
            ("send", "bk-1"),
            ("confirm", "bk-1"),
            ("claim", "bk-2"),
            ("send", "bk-2"),
            ("confirm", "bk-2"),
        ]
        confirming.set()
        return [await first, done]

    deliveries = asyncio.run(two_at_once())
    assert [d.outcome for d in deliveries] == [Outcome.SENT, Outcome.SENT]


class ClaimTimes(FakeSentLog):
    """Remembers the time each claim was written with."""

    def __init__(self) -> None:
        super().__init__()
        self.times: dict[str, float] = {}

    async def claim(self, message: PlannedMessage, now: float) -> tuple[Claim, bool]:
        self.times[message.booking_id] = now
        return await super().claim(message, now)


def test_a_claim_carries_the_time_it_is_written_not_the_runs_start() -> None:
    # A scheduled run plans with one `now`; its sends take time. A claim 200 s into the run stamped with
    # the run's start looked 200 s old, and an overlapping run reported it unknown while it was sent.
    clock, log = At(), ClaimTimes()

    def slow(message: PlannedMessage) -> str:
        clock.now += 200
        return accepted(message)

    rules = rules_from_mapping(
        {
            "rules": [
                {
                    "name": "t",
                    "key": "scheduled/t",
                    "status": "completed",
                    "sent_by": "scheduled",
                    "send_window": {"from": "1h after start", "until": "24h after start"},
                    "template": "hi",
                }
            ]
        }
    )
    notifier = Notifier(rules, on_this_loop(FakeTransport(slow), log, clock=clock))
    records = [
        {"id": f"bk-{n}", "customer_name": "손님", "phone": "010-5555-0001", "service": "커트",
         "start": "2026-11-24T08:00:00+09:00", "status": "completed"}
        for n in (1, 2, 3)
    ]  # fmt: skip
    run_start = datetime.fromtimestamp(NOW, UTC)
    for record in records:
        (plan,) = notifier.plan_record(record, run_start)
        asyncio.run(notifier.deliver(plan))
    assert log.times == {"bk-1": NOW, "bk-2": NOW + 200, "bk-3": NOW + 400}


def test_the_worker_stamps_a_claim_after_its_wait_for_a_send_slot() -> None:
    clock, log = At(), ClaimTimes()
    second = PlannedMessage("reminder", "bk-2", "01012345679", "박님, 내일 11:00 커트", "m" * 40)

    class Slow:
        async def send(self, message: PlannedMessage) -> str:
            await asyncio.sleep(0)
            clock.now += 0.5  # the first send holds the only slot while time passes
            return accepted(message)

    async def both() -> None:
        deliverer = on_this_loop(Slow(), log, clock=clock)
        await asyncio.gather(deliverer.deliver(MESSAGE), deliverer.deliver(second))

    asyncio.run(both())
    assert log.times == {"bk-1": NOW, "bk-2": NOW + 0.5}


# The worker's send ceiling (application/send_ceiling.py), as the Deliverer takes its turns.

MINUTE = 60.0


def messages(count: int) -> list[PlannedMessage]:
    return [
        PlannedMessage("confirmation", f"bk-{n}", f"010{n:08d}", "확정", f"{n:040d}") for n in range(count)
    ]


async def never(seconds: float) -> None:
    await asyncio.Event().wait()


def test_real_sends_past_the_ceiling_wait_and_are_claimed_after_their_wait() -> None:
    """Two a minute: the third waits in the process for the first to age out, and only then claims (its
    lease never covers the wait); every one is sent, none fails or is given up."""
    clock, log, transport = At(), ClaimTimes(), FakeTransport()

    async def sleep(seconds: float) -> None:
        clock.now += seconds
        await asyncio.sleep(0)

    ceiling = SendCeiling(2, window_seconds=MINUTE, clock=clock, sleep=sleep)
    three = messages(3)

    async def burst() -> list[Delivery]:
        deliverer = on_this_loop(transport, log, clock=clock, ceiling=ceiling, slots=asyncio.Semaphore(4))
        return list(await asyncio.gather(*(deliverer.deliver(m) for m in three)))

    assert [d.outcome for d in asyncio.run(burst())] == [Outcome.SENT] * 3
    assert log.times == {"bk-0": NOW, "bk-1": NOW, "bk-2": NOW + MINUTE}
    assert transport.sent == three
    assert (ceiling.deferred, ceiling.waiting) == (1, 0)


def test_dry_runs_take_no_turn_under_the_ceiling() -> None:
    ceiling = SendCeiling(1, window_seconds=MINUTE, sleep=never)

    async def dry() -> list[Outcome]:
        deliverer = on_this_loop(RefusingTransport(), FakeSentLog(), ceiling=ceiling, dry_run=True)
        return [(await deliverer.deliver(m)).outcome for m in messages(5)]

    assert asyncio.run(asyncio.wait_for(dry(), 5)) == [Outcome.DRY_RUN] * 5
    assert (ceiling.in_window(), ceiling.deferred) == (0, 0)


@pytest.mark.parametrize(
    ("state", "outcome"), [(ClaimState.SENT, Outcome.DUPLICATE), (ClaimState.UNKNOWN, Outcome.STILL_UNKNOWN)]
)
def test_a_key_sent_or_reported_before_waits_for_no_turn_while_the_ceiling_is_full(
    state: ClaimState, outcome: Outcome
) -> None:
    log, transport = FakeSentLog(), FakeTransport()
    first, replayed = messages(2)
    claim = log.planted(replayed, "worker:other:1", NOW)
    if state is ClaimState.SENT:
        asyncio.run(log.confirm(replayed, "req-before"))
    else:
        asyncio.run(log.mark_unknown(replayed, claim, "SENS answered HTTP 503"))
        reported(log, replayed)
    ceiling = SendCeiling(1, window_seconds=MINUTE, sleep=never)

    async def replay() -> Delivery:
        deliverer = on_this_loop(transport, log, ceiling=ceiling)
        assert (await deliverer.deliver(first)).outcome is Outcome.SENT  # the minute's one turn
        return await asyncio.wait_for(deliverer.deliver(replayed), 5)

    assert asyncio.run(replay()).outcome is outcome
    assert transport.sent == [first]
    assert (ceiling.in_window(), ceiling.deferred) == (1, 0)


@pytest.mark.parametrize(
    ("answer", "outcome", "counted"),
    [
        (accepted, Outcome.SENT, 1),
        (not_delivered(), Outcome.RETRY, 0),
        (refused, Outcome.REFUSED, 0),
        (unknown, Outcome.UNKNOWN, 1),
        (crashes, Outcome.UNKNOWN, 1),
    ],
    ids=["sent", "known-not-sent", "refused", "may-have-gone-out", "transport-bug"],
)
def test_a_turn_counts_when_a_send_may_have_gone_out_and_is_given_back_otherwise(
    answer: object, outcome: Outcome, counted: int
) -> None:
    ceiling = SendCeiling(5, window_seconds=MINUTE)

    async def once() -> Delivery:
        return await on_this_loop(FakeTransport(answer), FakeSentLog(), ceiling=ceiling).deliver(MESSAGE)  # type: ignore[arg-type]

    assert asyncio.run(once()).outcome is outcome
    assert ceiling.in_window() == counted


def test_a_claim_held_by_another_sender_gives_its_turn_back() -> None:
    log, transport = FakeSentLog(), FakeTransport()
    log.planted(MESSAGE, "worker:other:7", NOW)
    ceiling = SendCeiling(5, window_seconds=MINUTE)

    async def once() -> Delivery:
        return await on_this_loop(transport, log, at=NOW + 1, ceiling=ceiling).deliver(MESSAGE)

    assert asyncio.run(once()).outcome is Outcome.IN_FLIGHT
    assert (ceiling.in_window(), transport.sent) == (0, [])


def test_cancelled_while_waiting_for_a_turn_it_frees_its_slot_and_claims_nothing() -> None:
    """A stop cancels a delivery waiting for the ceiling: its event is nak'ed, nothing was claimed, its
    send slot is free and the ceiling still holds only the turns really taken."""
    log, transport = FakeSentLog(), FakeTransport()
    first, second = messages(2)
    ceiling = SendCeiling(1, window_seconds=MINUTE, sleep=never)

    async def stopped() -> None:
        slots = asyncio.Semaphore(1)
        deliverer = on_this_loop(transport, log, slots=slots, ceiling=ceiling)
        await deliverer.deliver(first)
        waiting = asyncio.create_task(deliverer.deliver(second))
        for _ in range(20):
            await asyncio.sleep(0)
        assert ceiling.waiting == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert not slots.locked(), "a cancelled wait gives its send slot back"

    asyncio.run(stopped())
    assert (ceiling.waiting, ceiling.in_window()) == (0, 1)
    assert log.state(second) is None and transport.sent == [first]
