"""One contract for the three sent logs: the fake, DynamoDB (moto's server) and JetStream KV (a real
nats-server). Each test runs over all three; the fake passes exactly what the real stores pass.

A lost answer is played by LosingAnswers, a RecordStore (our own port) around the real one: the write
reaches the real store (or not) and its answer never comes back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import boto3
import nats
import pytest

from naver_sms.adapters.dynamo_sent_log import DynamoRecords
from naver_sms.adapters.nats_sent_log import NatsKvRecords
from naver_sms.adapters.sent_log import Fields, RecordStore, StoreSentLog
from naver_sms.application.delivery import Deliverer, Outcome
from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import ClaimState
from naver_sms.domain.messages import PlannedMessage
from tests.support.fakes import FakeTransport, MemoryRecords
from tests.support.moto import SENT_LOG_TABLE, create_sent_log_table
from tests.support.nats_server import NatsServer
from tests.support.topology import WORKER

MESSAGE = PlannedMessage("confirmation", "bk-1", "01012345678", "김님, 예약 확정", "k" * 40)
LEASE = 120.0

Stores = Callable[[], contextlib.AbstractAsyncContextManager[RecordStore]]


@dataclass
class LosingAnswers:
    """The real store; `lose` makes its next write's answer go missing, after the write was stored or
    (stored=False) before it reached the store."""

    store: RecordStore
    losing: str = ""
    stored: bool = True

    def lose(self, operation: str, *, stored: bool = True) -> None:
        self.losing, self.stored = operation, stored

    async def _maybe(self, operation: str, write: Any) -> Any:
        if self.losing != operation:
            return await write
        self.losing = ""
        if self.stored:
            await write
        else:
            write.close()
        raise SentLogError(f"{operation}: no answer within 5 s")

    async def create(self, key: str, fields: Fields) -> str:
        return await self._maybe("create", self.store.create(key, fields))  # type: ignore[no-any-return]

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        return await self._maybe("replace", self.store.replace(key, fields, revision))  # type: ignore[no-any-return]

    async def delete(self, key: str, revision: str) -> None:
        await self._maybe("delete", self.store.delete(key, revision))

    async def put(self, key: str, fields: Fields) -> str:
        return await self._maybe("put", self.store.put(key, fields))  # type: ignore[no-any-return]

    async def read(self, key: str) -> tuple[Fields, str] | None:
        return await self.store.read(key)

    def scan(self) -> AsyncIterator[tuple[str, Fields]]:
        return self.store.scan()


@pytest.fixture(params=["fake", "dynamodb", "nats"])
def stores(request: pytest.FixtureRequest) -> Stores:
    """Opens one backing store per test; each writer gets its own client of it, as each process has."""
    if request.param == "fake":
        memory = MemoryRecords()

        @contextlib.asynccontextmanager
        async def fake() -> AsyncIterator[RecordStore]:
            yield memory

        return fake
    if request.param == "dynamodb":
        request.getfixturevalue("aws")
        create_sent_log_table()

        @contextlib.asynccontextmanager
        async def dynamodb() -> AsyncIterator[RecordStore]:
            yield DynamoRecords(SENT_LOG_TABLE, boto3.client("dynamodb"))

        return dynamodb
    server: NatsServer = request.getfixturevalue("nats_server")

    @contextlib.asynccontextmanager
    async def kv() -> AsyncIterator[RecordStore]:
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            try:
                bucket = await js.key_value(WORKER.dedupe_bucket)
            except nats.js.errors.BucketNotFoundError:
                bucket = await js.create_key_value(bucket=WORKER.dedupe_bucket, history=1)
            yield NatsKvRecords(bucket)
        finally:
            await nc.close()

    return kv


def contract(scenario: Callable[..., Any]) -> Callable[[Stores], None]:
    """Run `scenario(writer)` on one event loop; `writer(owner)` opens a sent log of its own."""

    def test(stores: Stores) -> None:
        async def run() -> None:
            async with contextlib.AsyncExitStack() as stack:

                async def writer(owner: str) -> tuple[StoreSentLog, LosingAnswers]:
                    records = LosingAnswers(await stack.enter_async_context(stores()))
                    return StoreSentLog(records, owner), records

                await scenario(writer)

        asyncio.run(run())

    test.__doc__ = scenario.__doc__
    return test


async def _claim_free_key(writer: Any) -> None:
    """A claim of a free key is made, and reads back as written."""
    (log, _) = await writer("lambda:a")
    now = time.time()
    claim, created = await log.claim(MESSAGE, now)
    assert created and (claim.state, claim.owner, claim.at) == (ClaimState.CLAIMED, "lambda:a", now)
    assert claim.attempt and claim.revision
    assert await log.lookup(MESSAGE) == claim


async def _claim_held_key(writer: Any) -> None:
    """A second claim (even by the same writer) is refused and sees the first."""
    (log, _) = await writer("lambda:a")
    first, _ = await log.claim(MESSAGE, time.time())
    again, created = await log.claim(MESSAGE, time.time())
    assert not created and again == first


async def _racing_claims(writer: Any) -> None:
    """Five writers claim one key at once: exactly one makes the claim."""
    logs = [(await writer(f"w:{n}"))[0] for n in range(5)]
    now = time.time()
    results = await asyncio.gather(*(log.claim(MESSAGE, now) for log in logs))
    assert sum(created for _, created in results) == 1
    (winner,) = [claim for claim, created in results if created]
    assert {claim.revision for claim, _ in results} == {winner.revision}


async def _confirm(writer: Any) -> None:
    """A confirmation is SENT with the provider id, and needs no claim (the SMS went out)."""
    (log, _) = await writer("lambda:a")
    await log.claim(MESSAGE, time.time())
    await log.confirm(MESSAGE, "req-1")
    held = await log.lookup(MESSAGE)
    assert held is not None and (held.state, held.provider_id) == (ClaimState.SENT, "req-1")
    other = PlannedMessage("reminder", "bk-2", "01012345679", "x", "m" * 40)
    await log.confirm(other, "req-2")
    found = await log.lookup(other)
    assert found is not None and (found.state, found.provider_id) == (ClaimState.SENT, "req-2")


async def _release(writer: Any) -> None:
    """A released claim is gone, so a retry may claim it; a release of a claim that changed keeps it."""
    (log, _) = await writer("lambda:a")
    claim, _ = await log.claim(MESSAGE, time.time())
    await log.release(MESSAGE, claim)
    assert await log.lookup(MESSAGE) is None
    again, created = await log.claim(MESSAGE, time.time())
    assert created
    assert await log.mark_unknown(MESSAGE, again, "never confirmed")
    await log.release(MESSAGE, again)
    held = await log.lookup(MESSAGE)
    assert held is not None and held.state is ClaimState.UNKNOWN


async def _mark_unknown(writer: Any) -> None:
    """A claim is marked unknown once: a second mark from the same view loses."""
    (log, _), (other, _) = await writer("w:a"), await writer("w:b")
    claim, _ = await log.claim(MESSAGE, time.time())
    assert await log.mark_unknown(MESSAGE, claim, "SENS answered HTTP 503 for 01012345678")
    assert not await other.mark_unknown(MESSAGE, claim, "a second reader")
    held = await log.lookup(MESSAGE)
    assert held is not None and (held.state, held.owner) == (ClaimState.UNKNOWN, "w:a")


async def _lease_expiry(writer: Any) -> None:
    """A claim older than its lease is reported unknown exactly once, by the one core, and never sent."""
    (dead, _), (log, _) = await writer("w:dead"), await writer("w:b")
    await dead.claim(MESSAGE, time.time() - LEASE - 1)
    transport = FakeTransport()

    def deliverer() -> Deliverer:
        return Deliverer(transport=transport, sent_log=log, lease_seconds=LEASE, dry_run=False)

    first = await deliverer().deliver(MESSAGE)
    await log.reported(MESSAGE.idempotency_key)  # its reporter (a run's alert, a worker's record)
    second = await deliverer().deliver(MESSAGE)
    assert (first.outcome, second.outcome) == (Outcome.UNKNOWN, Outcome.STILL_UNKNOWN)
    assert "w:dead" in first.reason and transport.sent == []


async def _reported(writer: Any) -> None:
    """A mark's report is pending until a reporter says it is done; saying so of a key that is not an
    unknown pending report (sent, claimed, absent) changes nothing."""
    (log, _), (other, _) = await writer("w:a"), await writer("w:b")
    claim, _ = await log.claim(MESSAGE, time.time())
    assert await log.mark_unknown(MESSAGE, claim, "SENS answered HTTP 503")
    pending = await other.lookup(MESSAGE)
    assert pending is not None and pending.report_pending
    await other.reported(MESSAGE.idempotency_key)
    done = await log.lookup(MESSAGE)
    assert done is not None and (done.state, done.report_pending) == (ClaimState.UNKNOWN, False)
    assert done.owner == "w:a" and done.revision != pending.revision
    await log.reported(MESSAGE.idempotency_key)  # twice: nothing more
    assert await log.lookup(MESSAGE) == done
    sent = PlannedMessage("reminder", "bk-2", "01012345679", "x", "m" * 40)
    await log.confirm(sent, "req-2")
    before = await log.lookup(sent)
    await log.reported(sent.idempotency_key)
    await log.reported("n" * 40)
    assert (
        await log.lookup(sent) == before
        and await log.lookup(PlannedMessage("reminder", "bk-3", "01012345670", "x", "n" * 40)) is None
    )


async def claim_answer_lost(log: StoreSentLog, records: LosingAnswers, now: float) -> None:
    """A claim the store took whose answer never came back."""
    records.lose("create")
    with pytest.raises(SentLogError):
        await log.claim(MESSAGE, now)


async def _takeover_by_attempt_token(writer: Any) -> None:
    """A claim whose answer was lost is taken over by its writer, and by nobody else."""
    (mine, records), (theirs, _) = await writer("w:a"), await writer("w:b")
    now = time.time()
    await claim_answer_lost(mine, records, now)
    seen, created = await theirs.claim(MESSAGE, now + 1)
    assert not created and (seen.state, seen.owner) == (ClaimState.CLAIMED, "w:a")
    claim, created = await mine.claim(MESSAGE, now + 2)
    assert created and claim.at == now + 2 and claim.revision != seen.revision
    again, created = await mine.claim(MESSAGE, now + 3)
    assert not created and again.revision == claim.revision


async def _lost_release(writer: Any) -> None:
    """A release whose answer was lost before it arrived leaves the claim to its writer's next try."""
    (mine, records), (theirs, _) = await writer("w:a"), await writer("w:b")
    claim, _ = await mine.claim(MESSAGE, time.time())
    records.lose("delete", stored=False)
    with pytest.raises(SentLogError):
        await mine.release(MESSAGE, claim)
    assert not (await theirs.claim(MESSAGE, time.time()))[1]
    again, created = await mine.claim(MESSAGE, time.time())
    assert created and again.revision != claim.revision


async def _lost_confirmation(writer: Any) -> None:
    """A confirmation that never arrived is written by its sender's next claim: the send reads as sent."""
    (mine, records), (theirs, _) = await writer("w:a"), await writer("w:b")
    await mine.claim(MESSAGE, time.time())
    records.lose("put", stored=False)
    with pytest.raises(SentLogError):
        await mine.confirm(MESSAGE, "req-1")
    seen, created = await mine.claim(MESSAGE, time.time())
    assert not created and (seen.state, seen.provider_id) == (ClaimState.SENT, "req-1")
    stored = await theirs.lookup(MESSAGE)
    assert stored is not None and (stored.state, stored.provider_id) == (ClaimState.SENT, "req-1")


async def _lost_claim_marked_meanwhile(writer: Any) -> None:
    """A lost claim reported unknown by another reader meanwhile stays unknown for its writer too."""
    (mine, records), (theirs, _) = await writer("w:a"), await writer("w:b")
    now = time.time()
    await claim_answer_lost(mine, records, now)
    stale, _ = await theirs.claim(MESSAGE, now + LEASE + 1)
    assert await theirs.mark_unknown(MESSAGE, stale, "never confirmed")
    claim, created = await mine.claim(MESSAGE, now + LEASE + 2)
    assert not created and claim.state is ClaimState.UNKNOWN


async def _unresolved(writer: Any) -> None:
    """The listing has every claim that is not a confirmed send, its key and no phone number or text."""
    (log, _) = await writer("w:a")
    now = time.time()
    messages = [PlannedMessage("reminder", f"bk-{n}", f"010{n:08d}", "text", f"{n:040d}") for n in (1, 2, 3)]
    await log.claim(messages[0], now)
    await log.confirm(messages[0], "req-1")
    claim, _ = await log.claim(messages[1], now)
    await log.mark_unknown(messages[1], claim, "SENS answered HTTP 503")
    await log.claim(messages[2], now)
    listed = {record["idempotency_key"]: record async for record in log.unresolved()}
    assert {key: record["state"] for key, record in listed.items()} == {
        messages[1].idempotency_key: "unknown",
        messages[2].idempotency_key: "claimed",
    }
    assert listed[messages[1].idempotency_key]["reason"] == "SENS answered HTTP 503"
    assert {record["booking_id"] for record in listed.values()} == {"bk-2", "bk-3"}
    assert "0100000000" not in str(listed) and "text" not in str(listed.values())


test_a_claim_of_a_free_key_is_made = contract(_claim_free_key)
test_a_claim_of_a_held_key_is_refused = contract(_claim_held_key)
test_racing_claims_make_one = contract(_racing_claims)
test_a_confirmation_is_sent = contract(_confirm)
test_a_release_frees_the_key_unless_the_claim_changed = contract(_release)
test_a_claim_is_marked_unknown_once = contract(_mark_unknown)
test_a_claim_past_its_lease_is_reported_unknown_once = contract(_lease_expiry)
test_an_unknowns_report_is_pending_until_reported = contract(_reported)
test_a_lost_claim_is_taken_over_by_its_writer_only = contract(_takeover_by_attempt_token)
test_a_lost_release_leaves_the_claim_to_its_writer = contract(_lost_release)
test_a_lost_confirmation_is_written_by_the_senders_next_claim = contract(_lost_confirmation)
test_a_lost_claim_reported_meanwhile_stays_unknown = contract(_lost_claim_marked_meanwhile)
test_the_listing_has_what_is_not_sent = contract(_unresolved)
