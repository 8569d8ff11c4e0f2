"""The Reconciler over real HTTP against the fake SENS, with the fake sent log: a send whose answer was
lost after SENS accepted it is found and resolved as sent (and its handset result read on the next
pass); a send SENS never accepted is released for the next run to send once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.adapters.sens_messages import SensMessages
from naver_sms.application.delivery import Deliverer, Outcome
from naver_sms.application.ports import ClaimState
from naver_sms.application.reconcile import Reconciler, ReconcileSettings
from naver_sms.application.send_policy import SendPolicy
from naver_sms.domain.messages import PlannedMessage, SentBy
from tests.support import fake_sens as sens_fake
from tests.support.fake_sens import FakeSens
from tests.support.fakes import FakeSentLog, MemoryOpenClaims

RIGHT = SensCredentials(sens_fake.ACCESS_KEY, sens_fake.SECRET_KEY, sens_fake.SERVICE_ID, sens_fake.SENDER)
LEASE = 120.0
SETTINGS = ReconcileSettings(lease_seconds=LEASE)
OPEN_UNTIL = datetime.now(UTC) + timedelta(days=1)
REACHED = PlannedMessage(
    "reminder",
    "bk-1",
    "01012345678",
    "see you at 3",
    "a" * 40,
    send_until=OPEN_UNTIL,
    sent_by=SentBy.SCHEDULED,
)
NEVER = PlannedMessage(
    "reminder",
    "bk-2",
    "01012345679",
    "see you at 4",
    "b" * 40,
    send_until=OPEN_UNTIL,
    sent_by=SentBy.SCHEDULED,
)


async def lose_both_answers(fake: FakeSens, log: FakeSentLog) -> None:
    transport = SensTransport(fake.url, RIGHT, SendPolicy(timeout=2.0, max_attempts=1), pool_size=1)
    deliverer = Deliverer(transport=transport, sent_log=log, lease_seconds=LEASE, dry_run=False)
    try:
        fake.state.drop_next = 1  # accepted, then the connection dropped: its answer never comes back
        reached = await deliverer.deliver(REACHED)
        fake.state.fail_next = 1  # a 503: it may have gone out, and SENS never accepted it
        never = await deliverer.deliver(NEVER)
    finally:
        await transport.close()
    assert (reached.outcome, never.outcome) == (Outcome.UNKNOWN, Outcome.UNKNOWN)
    for message in (REACHED, NEVER):
        await log.reported(message.idempotency_key)  # the run's alert went out


def test_a_lost_answer_is_resolved_from_sens_and_a_send_that_never_reached_it_is_released(
    fake_sens: FakeSens,
) -> None:
    log = FakeSentLog()
    settled = time.time() + LEASE + SETTINGS.margin_seconds + SETTINGS.settle_seconds + 1

    async def scenario() -> None:
        await lose_both_answers(fake_sens, log)
        messages = SensMessages(fake_sens.url, RIGHT, timeout=2.0)
        reconciler = Reconciler(
            messages=messages,
            sent_log=log,
            open_claims=MemoryOpenClaims(log.records),
            settings=SETTINGS,
            clock=lambda: settled,
        )
        try:
            first = await reconciler.run()
            assert [s.booking_id for s in first.resolved_sent] == ["bk-1"]
            assert [s.booking_id for s in first.released] == ["bk-2"]
            assert (first.still_unknown, first.errors) == ([], [])
            second = await reconciler.run()  # the resolved send's handset result (the fake: success)
            assert (second.delivered, second.handset_failed) == (1, [])
        finally:
            await messages.close()

    asyncio.run(scenario())
    (accepted,) = fake_sens.state.records.messages
    held = log.held(REACHED)
    assert held is not None and held.state is ClaimState.DELIVERED
    assert (held.provider_id, held.message_id) == (accepted["requestId"], accepted["messageId"])
    assert log.held(NEVER) is None
    assert len(fake_sens.state.sent) == 1  # the reconciler sent nothing: the next run sends bk-2
