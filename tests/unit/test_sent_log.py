"""The sent log's read-decide-write loop is bounded: a record that keeps changing under a claim ends in a
SentLogError naming the key's hash, never in endless reads; a delivery's report of a stale claim that loses
to another writer reads once more and reports nothing; a record in a state this version does not know is
read as one to look at, never sent and never an error."""

from __future__ import annotations

import asyncio

import pytest

from naver_sms.adapters.claim_record import decode
from naver_sms.adapters.sent_log import CLAIM_STEPS, Changed, Fields, StoreSentLog
from naver_sms.application.delivery import Deliverer, Outcome
from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage
from tests.support.fakes import FakeSentLog, FakeTransport, MemoryRecords

NOW = 1_800_000_000.0
LEASE = 120.0
MESSAGE = PlannedMessage("reminder", "bk-1", "01012345678", "김님, 내일 10:00 커트", "k" * 40)


class ReleasedEachTime(MemoryRecords):
    """Another writer's claim, released between each create and the read after it, then made again."""

    def __init__(self) -> None:
        super().__init__()
        self.creates = 0

    async def create(self, key: str, fields: Fields) -> str:
        self.creates += 1
        raise Changed

    async def read(self, key: str) -> tuple[Fields, str] | None:
        return None


class ReleasedOnce(ReleasedEachTime):
    async def create(self, key: str, fields: Fields) -> str:
        self.creates += 1
        if self.creates == 1:
            raise Changed
        return await MemoryRecords.create(self, key, fields)


def test_a_record_that_keeps_changing_ends_the_claim_in_a_sent_log_error() -> None:
    records = ReleasedEachTime()
    with pytest.raises(SentLogError) as raised:
        asyncio.run(StoreSentLog(records, "w:a").claim(MESSAGE, NOW))
    assert records.creates == CLAIM_STEPS
    assert MESSAGE.idempotency_key in str(raised.value)
    assert MESSAGE.phone not in str(raised.value) and "12345678" not in str(raised.value)


def test_a_record_that_changed_once_is_read_again_and_claimed() -> None:
    records = ReleasedOnce()
    claim, created = asyncio.run(StoreSentLog(records, "w:a").claim(MESSAGE, NOW))
    assert created and (claim.state, claim.owner) == (ClaimState.CLAIMED, "w:a")
    assert records.creates == 2


def test_the_owner_given_once_is_on_the_claim_and_the_confirmation() -> None:
    log = FakeSentLog("worker:host:7")
    claim, _ = asyncio.run(log.claim(MESSAGE, NOW))
    asyncio.run(log.confirm(MESSAGE, "req-1"))
    held = log.held(MESSAGE)
    assert claim.owner == "worker:host:7" and held is not None and held.owner == "worker:host:7"


class NeverMarked(FakeSentLog):
    """Every report of the stale claim loses to someone who changed it, and the key still reads stale."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        return False

    async def lookup(self, message: PlannedMessage) -> Claim | None:
        self.lookups += 1
        return await super().lookup(message)


def test_a_report_that_loses_reads_once_more_and_reports_nothing() -> None:
    log = NeverMarked()
    log.planted(MESSAGE, "worker:dead:1", NOW)
    core = Deliverer(
        transport=FakeTransport(),
        sent_log=log,
        lease_seconds=LEASE,
        dry_run=False,
        clock=lambda: NOW + LEASE + 1,
    )
    delivery = asyncio.run(core.deliver(MESSAGE))
    assert delivery.outcome is Outcome.IN_FLIGHT and log.lookups == 1
    assert log.state(MESSAGE) is ClaimState.CLAIMED


def test_a_record_in_a_state_this_version_does_not_know_is_read_as_unknown() -> None:
    """A later version's state (read after a rollback, as #36's delivered/failed/expired were by the
    version before it, which raised ValueError on every run planning the key) is UNKNOWN here: never
    sent, listed for a person, the stored state kept on the claim."""
    claim = decode({"state": "superseded", "owner": "future", "at": NOW}, "7")
    assert (claim.state, claim.foreign_state, claim.revision) == (ClaimState.UNKNOWN, "superseded", "7")
    assert decode({"state": "sent", "at": NOW}, "1").foreign_state == ""


def test_a_delivery_of_a_key_in_a_state_this_version_does_not_know_sends_nothing() -> None:
    log, transport = FakeSentLog(), FakeTransport()
    log.records.items[MESSAGE.idempotency_key] = ({"state": "superseded", "owner": "future", "at": NOW}, "1")
    core = Deliverer(transport=transport, sent_log=log, lease_seconds=LEASE, dry_run=False, clock=lambda: NOW)
    assert asyncio.run(core.deliver(MESSAGE)).outcome is Outcome.STILL_UNKNOWN
    assert transport.sent == []
    assert log.records.items[MESSAGE.idempotency_key][0]["state"] == "superseded"  # left as it was
