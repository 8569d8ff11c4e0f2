"""One contract for the three sent logs: the fake, DynamoDB (moto's server) and JetStream KV (a real
nats-server). Each test runs over all three; the fake passes exactly what the real stores pass.

A lost answer is played by LosingAnswers, a RecordStore (our own port) around the real one: the write
reaches the real store (or not) and its answer never comes back."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from naver_sms.adapters.dynamo_sent_log import UNPROCESSED_TRIES, DynamoOpenClaims, DynamoRecords
from naver_sms.adapters.sent_log import Fields, RecordStore, ScanOpenClaims, StoreSentLog
from naver_sms.application.delivery import Deliverer, Outcome
from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim, ClaimState, HandsetResult, OpenClaims
from naver_sms.domain.messages import PlannedMessage, SentBy, fingerprint, recipient_fingerprint
from tests.support.fakes import FakeTransport, MemoryOpenClaims, MemoryRecords
from tests.support.moto import SENT_LOG_TABLE, create_sent_log_table
from tests.support.stores import Stores

MESSAGE = PlannedMessage("confirmation", "bk-1", "01012345678", "김님, 예약 확정", "k" * 40)
LEASE = 120.0


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

    async def read_many(self, keys: Collection[str]) -> dict[str, tuple[Fields, str]]:
        return await self.store.read_many(keys)

    def scan(self) -> AsyncIterator[tuple[str, Fields]]:
        return self.store.scan()


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


def open_claims_of(records: LosingAnswers) -> OpenClaims:
    """What each store lists its open records with: DynamoDB's sparse index, the dict as that index
    would, and JetStream KV by reading every key."""
    store = records.store
    if isinstance(store, DynamoRecords):
        return DynamoOpenClaims(store)
    if isinstance(store, MemoryRecords):
        return MemoryOpenClaims(store)
    return ScanOpenClaims(store)


UNTIL = datetime(2099, 1, 1, tzinfo=UTC)  # the end of its rule's window
WINDOWED = dataclasses.replace(MESSAGE, send_until=UNTIL)


async def reported_unknown(log: StoreSentLog, message: PlannedMessage = WINDOWED) -> Claim:
    """A send whose answer was lost, marked unknown and reported, as a reconciler finds it."""
    claim, _ = await log.claim(message, time.time())
    assert await log.mark_unknown(message, claim, "SENS answered HTTP 503")
    await log.reported(message.idempotency_key)
    held = await log.lookup(message)
    assert held is not None and held.state is ClaimState.UNKNOWN
    return held


async def keys(listing: Any) -> dict[str, ClaimState]:
    return {message.idempotency_key: claim.state for message, claim in await listing}


async def _fingerprint_and_window(writer: Any) -> None:
    """A claim keeps its fingerprint and its window's end, never the phone or text, through every
    transition after it (a sweep's mark has neither to make them again)."""
    (log, records) = await writer("w:a")
    claim, _ = await log.claim(WINDOWED, time.time() - LEASE - 1)
    assert claim.fingerprint == fingerprint(MESSAGE.idempotency_key, MESSAGE.phone, MESSAGE.text)
    assert claim.until == UNTIL.timestamp()
    (swept, stale), *_ = await open_claims_of(records).open_claims()
    assert swept.phone == "" and await log.mark_unknown(swept, stale, "never confirmed")
    held = await log.lookup(MESSAGE)
    assert held is not None and (held.fingerprint, held.until) == (claim.fingerprint, claim.until)
    stored = (await records.read(MESSAGE.idempotency_key) or ({}, ""))[0]
    assert MESSAGE.phone not in str(stored) and MESSAGE.text not in str(stored)


async def _mark_keeps_the_claims_identity(writer: Any) -> None:
    """A stale claim marked unknown by a later run keeps the identity its sender wrote (fingerprint,
    recipient fingerprint, window end, path), whatever the marking run plans under the key now (a
    corrected name, a new template, another phone, another window); a claim written without one stays
    without (a person checks it), never given the marking run's."""
    (dead, _), (later, _) = await writer("w:dead"), await writer("w:later")
    sent = dataclasses.replace(WINDOWED, sent_by=SentBy.SCHEDULED)
    claim, _ = await dead.claim(sent, time.time() - LEASE - 1)
    planned_now = dataclasses.replace(
        sent, phone="01098765432", text="김님, 예약 확정!", send_until=datetime(2098, 1, 1, tzinfo=UTC)
    )
    assert await later.mark_unknown(planned_now, claim, "never confirmed")
    held = await later.lookup(MESSAGE)
    assert held is not None and held.state is ClaimState.UNKNOWN
    key = MESSAGE.idempotency_key
    assert held.fingerprint == fingerprint(key, MESSAGE.phone, MESSAGE.text) == claim.fingerprint
    assert (
        held.recipient_fingerprint == recipient_fingerprint(key, MESSAGE.phone) == claim.recipient_fingerprint
    )
    assert (held.until, held.sent_by) == (UNTIL.timestamp(), "scheduled")
    bare = PlannedMessage("reminder", "bk-2", "", "", "m" * 40)  # a claim written with no identity
    old, _ = await dead.claim(bare, time.time() - LEASE - 1)
    full = dataclasses.replace(
        bare, phone="01012345679", text="x", send_until=UNTIL, sent_by=SentBy.SCHEDULED
    )
    assert await later.mark_unknown(full, old, "never confirmed")
    kept = await later.lookup(full)
    assert kept is not None and (kept.fingerprint, kept.recipient_fingerprint, kept.until, kept.sent_by) == (
        "",
        "",
        None,
        "",
    )


async def _late_confirmation_keeps_the_claims_identity(writer: Any) -> None:
    """A confirmation written late by its sender's next claim keeps the identity of the claim it sent
    under, not that of the message planned now."""
    (mine, records) = await writer("w:a")
    claim, _ = await mine.claim(WINDOWED, time.time())
    records.lose("put", stored=False)
    with pytest.raises(SentLogError):
        await mine.confirm(WINDOWED, "req-1")
    seen, created = await mine.claim(dataclasses.replace(WINDOWED, text="김님, 예약 확정!"), time.time())
    assert not created and (seen.state, seen.provider_id) == (ClaimState.SENT, "req-1")
    assert (seen.fingerprint, seen.recipient_fingerprint, seen.until) == (
        claim.fingerprint,
        claim.recipient_fingerprint,
        claim.until,
    )
    stored = await mine.lookup(MESSAGE)
    assert stored is not None and stored.fingerprint == claim.fingerprint


async def _resolve_sent(writer: Any) -> None:
    """An unknown found in SENS's list becomes SENT with SENS's ids and when SENS took it, awaiting its
    handset result; the same move from the same view a second time loses."""
    (log, records), (other, _) = await writer("w:a"), await writer("reconciler:b")
    unknown = await reported_unknown(log)
    sent_at = time.time() - 30
    key = MESSAGE.idempotency_key
    assert await other.resolve_sent(key, unknown, "req-9", "msg-9", sent_at)
    held = await log.lookup(MESSAGE)
    assert held is not None and (held.state, held.provider_id, held.message_id) == (
        ClaimState.SENT,
        "req-9",
        "msg-9",
    )
    assert held.at == sent_at and held.fingerprint == unknown.fingerprint
    assert not await log.resolve_sent(key, unknown, "req-10", "msg-10", sent_at)
    assert not await log.release_unknown(key, unknown)
    assert await keys(open_claims_of(records).to_reconcile()) == {key: ClaimState.SENT}
    assert [r async for r in log.unresolved()] == []


async def _release_after_not_found(writer: Any) -> None:
    """An unknown SENS never accepted is dropped, so the next run claims and sends it once; a release
    made from the old view after that claim loses, and the claim stays."""
    (log, _), (reconciler, _) = await writer("w:a"), await writer("reconciler:b")
    unknown = await reported_unknown(log)
    assert await reconciler.release_unknown(MESSAGE.idempotency_key, unknown)
    assert await log.lookup(MESSAGE) is None
    fresh, created = await log.claim(WINDOWED, time.time())
    assert created
    assert not await reconciler.release_unknown(MESSAGE.idempotency_key, unknown)
    assert not await reconciler.expire(MESSAGE.idempotency_key, unknown, "late")
    assert await log.lookup(MESSAGE) == fresh


async def _expire(writer: Any) -> None:
    """An unknown never accepted and out of its window is EXPIRED: listed by `make claims`, listed for
    nobody's look, and never sent by a run that plans it again."""
    (log, records) = await writer("w:a")
    unknown = await reported_unknown(log)
    assert await log.expire(MESSAGE.idempotency_key, unknown, "not in SENS's list, and its window has closed")
    held = await log.lookup(MESSAGE)
    assert held is not None and (held.state, held.note) == (
        ClaimState.EXPIRED,
        "not in SENS's list, and its window has closed",
    )
    assert held.reason == "SENS answered HTTP 503"  # why it was unknown, kept
    opened = open_claims_of(records)
    assert await opened.to_reconcile() == [] and await opened.open_claims() == []
    assert [r["state"] async for r in log.unresolved()] == ["expired"]
    transport = FakeTransport()
    delivery = await Deliverer(transport=transport, sent_log=log, lease_seconds=LEASE, dry_run=False).deliver(
        WINDOWED
    )
    assert delivery.outcome is Outcome.STILL_UNKNOWN and transport.sent == []


async def _note(writer: Any) -> None:
    """Why an unknown stays unknown is written on it; it stays listed for the reconciler."""
    (log, records) = await writer("w:a")
    unknown = await reported_unknown(log)
    assert await log.note(MESSAGE.idempotency_key, unknown, "2 messages match")
    held = await log.lookup(MESSAGE)
    assert held is not None and (held.state, held.note) == (ClaimState.UNKNOWN, "2 messages match")
    assert await keys(open_claims_of(records).to_reconcile()) == {MESSAGE.idempotency_key: ClaimState.UNKNOWN}
    assert not await log.note(MESSAGE.idempotency_key, unknown, "from an old view")


async def _handset(writer: Any) -> None:
    """A confirmed send awaits its handset result, listed with when it was sent; the result makes it
    DELIVERED or FAILED (code and name kept; a failure is listed by `make claims`), or nobody waits for it
    any more. Either way a run that plans it again sends nothing."""
    (log, records) = await writer("w:a")
    messages = [
        PlannedMessage("reminder", f"bk-{n}", f"010{n:08d}", "text", f"{n:040d}", send_until=UNTIL)
        for n in (1, 2, 3)
    ]
    before = time.time()
    for n, message in enumerate(messages):
        await log.claim(message, before)
        await log.confirm(message, f"req-{n}")
    opened = open_claims_of(records)
    listed = {m.idempotency_key: c for m, c in await opened.to_reconcile()}
    assert {c.state for c in listed.values()} == {ClaimState.SENT} and len(listed) == 3
    assert all(c.at >= before for c in listed.values())
    delivered, failed, dropped = (listed[m.idempotency_key] for m in messages)
    key = [m.idempotency_key for m in messages]
    assert await log.record_handset(key[0], delivered, HandsetResult("0", True, "success", "SKT"))
    assert await log.record_handset(key[1], failed, HandsetResult("3018", False, "unreachable", "KT"))
    assert await log.record_handset(key[2], dropped, None)
    assert not await log.record_handset(key[1], failed, HandsetResult("0", True, "success", "KT"))
    states = [(await log.lookup(m) or failed).state for m in messages]
    assert states == [ClaimState.DELIVERED, ClaimState.FAILED, ClaimState.SENT]
    assert await opened.to_reconcile() == []
    (shown,) = [r async for r in log.unresolved()]
    assert (shown["state"], shown["status_code"], shown["status_name"]) == ("failed", "3018", "fail")
    transport = FakeTransport()
    deliverer = Deliverer(transport=transport, sent_log=log, lease_seconds=LEASE, dry_run=False)
    outcomes = [(await deliverer.deliver(m)).outcome for m in messages]
    assert outcomes == [Outcome.DUPLICATE] * 3 and transport.sent == []


async def _racing_reconcilers(writer: Any) -> None:
    """Two reconcilers (two sent logs on one store) move one listed unknown at once: exactly one wins,
    whether both release it or one resolves it as the other releases it; and a claim made after the
    release is not lost to the loser's late try."""
    (log, records), (a, _), (b, _) = await writer("w:run"), await writer("rec:a"), await writer("rec:b")
    key = MESSAGE.idempotency_key
    await reported_unknown(log)
    ((_, seen),) = await open_claims_of(records).to_reconcile()
    won = await asyncio.gather(a.release_unknown(key, seen), b.release_unknown(key, seen))
    assert sorted(won) == [False, True]
    fresh, created = await log.claim(WINDOWED, time.time())
    assert created
    assert not await a.release_unknown(key, seen) and not await b.release_unknown(key, seen)
    assert await log.lookup(MESSAGE) == fresh
    assert await log.mark_unknown(WINDOWED, fresh, "SENS answered HTTP 503 again")
    await log.reported(key)
    ((_, seen),) = await open_claims_of(records).to_reconcile()
    won = await asyncio.gather(
        a.resolve_sent(key, seen, "req-1", "msg-1", time.time()), b.release_unknown(key, seen)
    )
    assert sorted(won) == [False, True]
    held = await log.lookup(MESSAGE)
    assert (held is None) is won[1] and (held is None or held.state is ClaimState.SENT)


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
test_a_claim_keeps_its_fingerprint_and_window_end = contract(_fingerprint_and_window)
test_a_stale_claim_marked_by_a_later_run_keeps_its_own_identity = contract(_mark_keeps_the_claims_identity)
test_a_late_confirmation_keeps_the_claims_identity = contract(_late_confirmation_keeps_the_claims_identity)
test_an_unknown_found_at_sens_is_resolved_sent = contract(_resolve_sent)
test_an_unknown_never_accepted_is_released_once = contract(_release_after_not_found)
test_an_unknown_out_of_its_window_expires = contract(_expire)
test_an_unknown_keeps_a_note_of_why = contract(_note)
test_a_handset_result_is_recorded = contract(_handset)
test_racing_reconcilers_move_an_unknown_once = contract(_racing_reconcilers)


def on_records(scenario: Callable[[RecordStore, RecordStore], Any]) -> Callable[[Stores], None]:
    """Run `scenario(writer, reader)` over the store's primitives: two clients of one store."""

    def test(stores: Stores) -> None:
        async def run() -> None:
            async with stores() as writer, stores() as reader:
                await scenario(writer, reader)

        asyncio.run(run())

    test.__doc__ = scenario.__doc__
    return test


async def _read_many(writer: RecordStore, reader: RecordStore) -> None:
    """A batch read gives what `read` gives of each key, fields and revision, as soon as it is written
    (another client's write); absent and deleted keys are left out, a key asked twice is answered once,
    and no keys asked is nothing."""
    await writer.create("rm-1", {"state": "claimed", "at": 1.5})
    second = await writer.create("rm-2", {"state": "claimed"})
    replaced = await writer.replace("rm-2", {"state": "sent", "provider_id": "req-2"}, second)
    gone = await writer.create("rm-3", {"state": "claimed"})
    await writer.delete("rm-3", gone)
    found = await reader.read_many(["rm-1", "rm-2", "rm-3", "rm-4", "rm-1"])
    assert found == {key: await reader.read(key) for key in ("rm-1", "rm-2")}
    assert found["rm-2"] == ({"state": "sent", "provider_id": "req-2"}, replaced)
    assert found["rm-1"][0] == {"state": "claimed", "at": 1.5}
    assert await reader.read_many([]) == {}


async def _read_many_past_a_batch(writer: RecordStore, reader: RecordStore) -> None:
    """More keys than one DynamoDB BatchGetItem takes (100) are all read, with `read`'s revisions."""
    keys = [f"rm-{n:03d}" for n in range(230)]
    revisions = {key: await writer.put(key, {"n": float(n)}) for n, key in enumerate(keys) if n % 23}
    found = await reader.read_many(keys)
    assert {key: revision for key, (_, revision) in found.items()} == revisions
    assert {key: fields for key, (fields, _) in found.items()} == {
        key: {"n": float(key[3:])} for key in revisions
    }
    for key in ("rm-001", "rm-150", "rm-229"):
        assert found[key] == await reader.read(key)


test_a_batch_read_gives_what_read_gives = on_records(_read_many)
test_a_batch_read_of_more_keys_than_a_request_takes = on_records(_read_many_past_a_batch)


class Unprocessing:
    """moto's DynamoDB client, whose next `throttled` BatchGetItem answers leave the second half of the
    keys asked unprocessed, as a throttled table does; it keeps every request's keys."""

    def __init__(self, throttled: int) -> None:
        self.client = boto3.client("dynamodb")
        self.throttled = throttled
        self.asked: list[list[str]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, asked),) = RequestItems.items()
        assert asked["ConsistentRead"] is True
        keys = asked["Keys"]
        self.asked.append([key["idempotency_key"]["S"] for key in keys])
        if not self.throttled:
            return self.client.batch_get_item(RequestItems=RequestItems)  # type: ignore[no-any-return]
        self.throttled -= 1
        half = len(keys) // 2
        answer: dict[str, Any] = {"Responses": {table: []}}
        if half:
            answer = self.client.batch_get_item(RequestItems={table: {**asked, "Keys": keys[:half]}})
        return {**answer, "UnprocessedKeys": {table: {**asked, "Keys": keys[half:]}}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def written(count: int) -> dict[str, tuple[Fields, str]]:
    """`count` records written to moto's table, as `read` gives them."""

    async def write() -> dict[str, tuple[Fields, str]]:
        records = DynamoRecords(SENT_LOG_TABLE, boto3.client("dynamodb"))
        return {
            f"rm-{n:03d}": ({"n": float(n)}, await records.put(f"rm-{n:03d}", {"n": float(n)}))
            for n in range(count)
        }

    create_sent_log_table()
    return asyncio.run(write())


def test_dynamodb_reads_a_batch_a_hundred_keys_a_request(aws: str) -> None:
    stored = written(230)
    client = Unprocessing(throttled=0)
    found = asyncio.run(DynamoRecords(SENT_LOG_TABLE, client).read_many([*stored, "rm-missing"]))
    assert found == stored
    assert [len(keys) for keys in client.asked] == [100, 100, 31]


def test_dynamodb_asks_again_for_the_keys_it_left_unprocessed(aws: str) -> None:
    stored = written(130)
    client = Unprocessing(throttled=3)
    found = asyncio.run(DynamoRecords(SENT_LOG_TABLE, client).read_many(stored))
    assert found == stored
    assert [len(keys) for keys in client.asked] == [100, 50, 25, 13, 30]


def test_dynamodb_fails_a_batch_read_it_cannot_finish_as_it_fails_a_read(aws: str) -> None:
    stored = written(10)
    client = Unprocessing(throttled=UNPROCESSED_TRIES)
    with pytest.raises(SentLogError, match="1 of 10 keys still unprocessed"):
        asyncio.run(DynamoRecords(SENT_LOG_TABLE, client).read_many(stored))
    assert len(client.asked) == UNPROCESSED_TRIES
    for call in (
        DynamoRecords("no-such-table").read_many(stored),
        DynamoRecords("no-such-table").read("rm-001"),
    ):
        with pytest.raises(SentLogError, match="no-such-table"):
            asyncio.run(call)
