"""Each branch of the reconciler over real HTTP against the fake SENS, on each of the three sent logs
(the fake, DynamoDB under moto's server, JetStream KV on a real nats-server): the sends are made by the
real Deliverer and SENS transport, the pass reads SENS's list and messages with the real adapter, and
the store lists its open records as it does in production (the index, the dict, every key)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

from naver_sms.adapters.sens import SensTransport
from naver_sms.adapters.sens_messages import SensMessages
from naver_sms.adapters.sent_log import StoreSentLog
from naver_sms.application.delivery import Deliverer, Outcome
from naver_sms.application.ports import ClaimState
from naver_sms.application.reconcile import Reconciler, ReconcileSettings
from naver_sms.application.reconcile_result import ReconcileResult
from naver_sms.application.send_policy import SendPolicy
from naver_sms.domain.messages import PlannedMessage, SentBy
from tests.integration.test_reconcile_sens import RIGHT
from tests.integration.test_sent_logs import LosingAnswers, open_claims_of
from tests.support.fake_sens import FakeSens
from tests.support.fake_sens_records import DEFAULT_PAGE_SIZE, Fault
from tests.support.stores import Stores

LEASE = 120.0
SETTINGS = ReconcileSettings(lease_seconds=LEASE)
PHONE = "01055550001"


def message(n: int = 1) -> PlannedMessage:
    return PlannedMessage(
        "reminder",
        f"bk-{n}",
        PHONE,
        f"see you at {n}",
        f"{n}" * 40,
        send_until=datetime.now(UTC) + timedelta(days=1),
        sent_by=SentBy.SCHEDULED,
    )


Reconcile = Callable[..., Awaitable[ReconcileResult]]
Scenario = Callable[[FakeSens, StoreSentLog, Reconcile], Awaitable[None]]


def over_each_store(scenario: Scenario) -> Callable[[Stores, FakeSens], None]:
    """Run `scenario(sens, log, reconcile)` with a sent log on the store under test; `reconcile(settled=
    True)` makes one pass with the clock past the claims' settle time (False: the real clock)."""

    def test(stores: Stores, fake_sens: FakeSens) -> None:
        async def run() -> None:
            async with stores() as store:
                records = LosingAnswers(store)
                log = StoreSentLog(records, "lambda:test")
                settled = time.time() + LEASE + SETTINGS.margin_seconds + SETTINGS.settle_seconds + 1

                async def reconcile(*, settled_clock: bool = True) -> ReconcileResult:
                    messages = SensMessages(fake_sens.url, RIGHT, timeout=2.0)
                    try:
                        return await Reconciler(
                            messages=messages,
                            sent_log=log,
                            open_claims=open_claims_of(records),
                            settings=SETTINGS,
                            clock=(lambda: settled) if settled_clock else time.time,
                        ).run()
                    finally:
                        await messages.close()

                await scenario(fake_sens, log, reconcile)

        asyncio.run(run())

    test.__doc__ = scenario.__doc__
    return test


@contextlib.asynccontextmanager
async def sending(fake: FakeSens, log: StoreSentLog) -> AsyncIterator[Deliverer]:
    transport = SensTransport(fake.url, RIGHT, SendPolicy(timeout=2.0, max_attempts=1), pool_size=1)
    try:
        yield Deliverer(transport=transport, sent_log=log, lease_seconds=LEASE, dry_run=False)
    finally:
        await transport.close()


async def lost(fake: FakeSens, log: StoreSentLog, planned: PlannedMessage, *, reached: bool) -> None:
    """A send marked unknown and reported: SENS accepted it and the answer was lost (`reached`), or it
    answered 503 and never accepted it."""
    async with sending(fake, log) as deliverer:
        if reached:
            fake.state.drop_next = 1
        else:
            fake.state.fail_next = 1
        assert (await deliverer.deliver(planned)).outcome is Outcome.UNKNOWN
    await log.reported(planned.idempotency_key)


def state(log: StoreSentLog, planned: PlannedMessage) -> Awaitable[ClaimState | None]:
    async def read() -> ClaimState | None:
        held = await log.lookup(planned)
        return None if held is None else held.state

    return read()


async def _found_is_resolved_sent_then_delivered(
    fake: FakeSens, log: StoreSentLog, reconcile: Reconcile
) -> None:
    """A send SENS accepted, its answer lost: found, resolved as sent with SENS's ids; the next pass
    records its handset result (delivered). Nothing is sent again."""
    await lost(fake, log, message(), reached=True)
    first = await reconcile()
    assert [s.booking_id for s in first.resolved_sent] == ["bk-1"]
    (accepted,) = fake.state.records.messages
    held = await log.lookup(message())
    assert held is not None and (held.state, held.provider_id, held.message_id) == (
        ClaimState.SENT,
        accepted["requestId"],
        accepted["messageId"],
    )
    second = await reconcile()
    assert (second.delivered, second.handset_failed) == (1, [])
    assert await state(log, message()) is ClaimState.DELIVERED
    assert len(fake.state.sent) == 1


async def _never_accepted_is_released(fake: FakeSens, log: StoreSentLog, reconcile: Reconcile) -> None:
    """A send SENS answered 503 and never listed: released (the claim gone) for the next run to send."""
    await lost(fake, log, message(), reached=False)
    result = await reconcile()
    assert [s.booking_id for s in result.released] == ["bk-1"]
    assert await state(log, message()) is None
    assert fake.state.sent == []


async def _several_matches_stay_unknown(fake: FakeSens, log: StoreSentLog, reconcile: Reconcile) -> None:
    """SENS lists the same text to the same number twice in the window: which one is ours cannot be
    told, so it stays unknown with the reason."""
    await lost(fake, log, message(), reached=True)
    fake.state.records.accept(PHONE, message().text)
    result = await reconcile()
    assert [s.booking_id for s in result.still_unknown] == ["bk-1"]
    assert await state(log, message()) is ClaimState.UNKNOWN


async def _an_unsettled_window_waits(fake: FakeSens, log: StoreSentLog, reconcile: Reconcile) -> None:
    """A window not yet settled (SENS's list may lag its sends): nothing is asked, nothing moves."""
    fake.state.records.lag = timedelta(hours=1)
    await lost(fake, log, message(), reached=True)
    reads = len(fake.state.records.reads)
    result = await reconcile(settled_clock=False)
    assert (result.waiting, result.released, result.resolved_sent) == (1, [], [])
    assert len(fake.state.records.reads) == reads
    assert await state(log, message()) is ClaimState.UNKNOWN


async def _a_sens_answering_5xx_moves_nothing(
    fake: FakeSens, log: StoreSentLog, reconcile: Reconcile
) -> None:
    """SENS's list answers 503: no conclusion, least of all "never sent"; the pass stops there."""
    await lost(fake, log, message(1), reached=False)
    await lost(fake, log, message(2), reached=False)
    fake.state.records.fault = Fault.SERVER_ERROR
    result = await reconcile()
    assert result.released == [] and result.sens_unreadable
    assert result.left == 1  # asked once: the second record waits for the next pass
    assert await state(log, message(1)) is ClaimState.UNKNOWN


async def _a_page_cut_short_moves_nothing(fake: FakeSens, log: StoreSentLog, reconcile: Reconcile) -> None:
    """A busy window (more than a page of other customers' messages) whose first page says more follow
    but holds one fewer than it should: the list is not whole, so nothing is concluded from it."""
    for n in range(DEFAULT_PAGE_SIZE + 20):
        fake.state.records.accept(f"0107777{n:04d}", "another shop's text")
    await lost(fake, log, message(), reached=True)
    fake.state.records.fault = Fault.CUT_SHORT
    result = await reconcile()
    assert (result.released, result.resolved_sent) == ([], [])
    assert [s.booking_id for s in result.still_unknown] == ["bk-1"]
    assert await state(log, message()) is ClaimState.UNKNOWN


async def _a_handset_failure_is_recorded_once_masked(
    fake: FakeSens, log: StoreSentLog, reconcile: Reconcile
) -> None:
    """A confirmed send the carrier could not deliver: recorded failed with SENS's code, reported once
    with the phone masked."""
    fake.state.records.failing_phones.add(PHONE)
    async with sending(fake, log) as deliverer:
        assert (await deliverer.deliver(message())).outcome is Outcome.SENT
    first = await reconcile()
    (failure,) = first.handset_failed
    assert (failure.booking_id, failure.masked_phone, failure.status_code) == ("bk-1", "010****0001", "3018")
    assert await state(log, message()) is ClaimState.FAILED
    again = await reconcile()
    assert again.handset_failed == []
    assert PHONE not in str(first) + str(again)


test_found_is_resolved_sent_then_delivered = over_each_store(_found_is_resolved_sent_then_delivered)
test_never_accepted_is_released = over_each_store(_never_accepted_is_released)
test_several_matches_stay_unknown = over_each_store(_several_matches_stay_unknown)
test_an_unsettled_window_waits = over_each_store(_an_unsettled_window_waits)
test_a_sens_answering_5xx_moves_nothing = over_each_store(_a_sens_answering_5xx_moves_nothing)
test_a_page_cut_short_moves_nothing = over_each_store(_a_page_cut_short_moves_nothing)
test_a_handset_failure_is_recorded_once_masked = over_each_store(_a_handset_failure_is_recorded_once_masked)
