"""A sent log's lifecycle, written once over a record store's primitives (record_store.py: create,
read, compare-and-set replace and delete, put, scan): DynamoDB and JetStream KV differ only in those, and
one claim-record codec (claim_record.py) is what both store. The reconciler's transitions, written over
the same primitives, are in reconciled.py.

Every state change but the confirmation is a compare-and-set on the revision read, so two senders
racing on one key cannot both claim it, and a stale claim is reported unknown exactly once. The
confirmation is written whatever the key holds: the SMS went out, and that is the truth to keep.

A write whose answer is lost (a timeout while a cluster moves the bucket's leader, a node dying
mid-request, a dropped DynamoDB response) may or may not have been stored, and only its writer knows
what happened around it. So each claim carries a random attempt token, and the writer remembers: its
claims with nothing sent under them (a claim or a release unanswered), which its next claim of that
message takes over; and its sends whose confirmation went unanswered, which its next claim of that
message confirms. Anyone else sees a live claim.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from naver_sms.adapters.claim_record import (
    HANDSET,
    KEY,
    OPEN,
    PENDING,
    RECONCILE,
    REPORT,
    SWEEP,
    carried,
    decode,
    encode,
    identity,
    listed,
    opened,
)
from naver_sms.adapters.reconciled import Reconciliations
from naver_sms.adapters.record_store import Changed, Fields, RecordStore
from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage

REMEMBERED = 10_000  # lost answers remembered at once, of each kind; beyond, the oldest are forgotten
# The login guard's record (login_guard_store.py) and the change feed's (seen_bookings.py) share the
# Lambda's table: not claims, never listed.
GUARD_PREFIX = "login-guard#"
FEED_PREFIX = "feed#"
NOT_CLAIMS = (GUARD_PREFIX, FEED_PREFIX)
# Read-decide-write steps one claim takes before it gives up (SentLogError): each step past the first
# means another writer changed the record between this one's read and its write.
CLAIM_STEPS = 8
# What `make claims` leaves out: sends that reached SENS and no handset failure. An expired message (never
# sent) and a handset failure are a person's to look at, so they are listed.
LISTED_AS_DONE = frozenset({ClaimState.SENT.value, ClaimState.DELIVERED.value})
T = TypeVar("T")
# Re-exported: the stores and the tests import the primitives' names from here.
__all__ = [
    "CLAIM_STEPS",
    "FEED_PREFIX",
    "GUARD_PREFIX",
    "NOT_CLAIMS",
    "Changed",
    "Fields",
    "RecordStore",
    "StoreSentLog",
]


def _note(memory: dict[str, str], key: str, value: str) -> None:
    if len(memory) >= REMEMBERED:
        del memory[next(iter(memory))]
    memory[key] = value


class StoreSentLog(Reconciliations):
    """The SentLog port over one RecordStore, for one writer: `owner` is written into its claims and
    confirmations, and its memory of lost answers is its own."""

    def __init__(self, records: RecordStore, owner: str) -> None:
        self._records = records
        self._owner = owner
        self._unsent: dict[str, str] = {}  # key -> attempt token of our claim with nothing sent under it
        self._unconfirmed: dict[str, str] = {}  # key -> provider id of our send not confirmed

    @property
    def store(self) -> RecordStore:
        """The record store under it: what a listing of its open records (ScanOpenClaims) reads."""
        return self._records

    async def claim(self, message: PlannedMessage, now: float) -> tuple[Claim, bool]:
        """Read, decide, write, as one loop: each step ends in an answer, or in None when the record
        changed between its read and its write (another writer's move), and the next step reads again.
        A lost take-over or late confirmation answers on that next read with what the key then holds;
        only a claim released between a create and its read can keep the loop going. Writers on one key
        are few, so a record that keeps changing is a fault, reported after CLAIM_STEPS steps rather
        than chased for ever."""
        for _ in range(CLAIM_STEPS):
            answer = await self._claim_step(message, now)
            if answer is not None:
                return answer
        raise SentLogError(
            f"sent log key {message.idempotency_key} changed under each of {CLAIM_STEPS} tries to claim "
            "it; nothing was sent under this claim"
        )

    async def _claim_step(self, message: PlannedMessage, now: float) -> tuple[Claim, bool] | None:
        key, attempt = message.idempotency_key, secrets.token_hex(8)
        fields = encode(message, ClaimState.CLAIMED, self._owner, now, attempt=attempt, **identity(message))
        try:
            revision = await self._noted(self._unsent, key, attempt, self._records.create(key, fields))
        except Changed:
            held = await self._records.read(key)
            # None: released between our create and our read, so the next step creates again.
            return None if held is None else await self._claimed_before(message, now, decode(*held))
        # The key was free: whatever we remembered of it never landed.
        self._unsent.pop(key, None)
        self._unconfirmed.pop(key, None)
        return decode(fields, revision), True

    async def _claimed_before(
        self, message: PlannedMessage, now: float, found: Claim
    ) -> tuple[Claim, bool] | None:
        """What the key holds, unless it is our own claim whose answer we lost: that is ours again."""
        key = message.idempotency_key
        # Forgotten whatever happens next: a record changed meanwhile is no longer the one we wrote.
        unsent, sent_as = self._unsent.pop(key, None), self._unconfirmed.pop(key, None)
        if found.state is ClaimState.CLAIMED and unsent and found.attempt == unsent:
            return await self._take_over(message, now, found)
        if found.state is ClaimState.CLAIMED and sent_as is not None:
            return await self._confirm_late(message, found, sent_as)
        return found, False

    async def _take_over(
        self, message: PlannedMessage, now: float, found: Claim
    ) -> tuple[Claim, bool] | None:
        """Our claim with nothing sent under it: ours again, renewed from now; None if changed meanwhile."""
        key, attempt = message.idempotency_key, secrets.token_hex(8)
        fields = encode(message, ClaimState.CLAIMED, self._owner, now, attempt=attempt, **identity(message))
        try:
            revision = await self._noted(
                self._unsent, key, attempt, self._records.replace(key, fields, found.revision)
            )
        except Changed:
            return None
        return decode(fields, revision), True

    async def _confirm_late(
        self, message: PlannedMessage, found: Claim, provider_id: str
    ) -> tuple[Claim, bool] | None:
        """The claim we sent under, its confirmation lost: confirmed now, so the send reads as sent;
        None if changed meanwhile."""
        key, at = message.idempotency_key, time.time()
        fields = encode(
            message,
            ClaimState.SENT,
            self._owner,
            at,
            provider_id=provider_id,
            # The claim's own identity: it is what was sent under it, whatever `message` says now.
            **carried(found),
        )
        try:
            revision = await self._noted(
                self._unconfirmed, key, provider_id, self._records.replace(key, fields, found.revision)
            )
        except Changed:
            return None
        return decode(fields, revision), False

    async def _noted(self, memory: dict[str, str], key: str, value: str, write: Awaitable[T]) -> T:
        """The write's answer. A write whose answer is lost may or may not have been stored: `value` is
        remembered in `memory` before the error goes on."""
        try:
            return await write
        except SentLogError:
            _note(memory, key, value)
            raise

    async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        key = message.idempotency_key
        fields = encode(
            message, ClaimState.SENT, self._owner, time.time(), provider_id=provider_id, **identity(message)
        )
        await self._noted(self._unconfirmed, key, provider_id, self._records.put(key, fields))

    async def release(self, message: PlannedMessage, claim: Claim) -> None:
        key = message.idempotency_key
        try:
            await self._noted(self._unsent, key, claim.attempt, self._records.delete(key, claim.revision))
        except Changed:
            pass  # no longer this claim (reported unknown meanwhile): keep what is there

    async def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        fields = encode(
            message,
            ClaimState.UNKNOWN,
            previous.owner,
            previous.at,
            attempt=previous.attempt,
            reason=reason,
            # The claim's own identity only: `message` is what the marking run plans under the key, which
            # may not be what the claim's sender sent (a corrected name, a new template, another phone);
            # a claim with none stays without, for a person.
            **{REPORT: PENDING} | carried(previous),
        )
        try:
            await self._records.replace(message.idempotency_key, fields, previous.revision)
        except Changed:
            return False
        return True

    async def reported(self, key: str) -> None:
        held = await self._records.read(key)
        if held is None or held[0].get(REPORT) != PENDING:
            return
        fields = opened({name: value for name, value in held[0].items() if name != REPORT})
        try:
            await self._records.replace(key, fields, held[1])
        except Changed:
            pass  # changed meanwhile (confirmed late, or reported by another): nothing left to do

    async def lookup(self, message: PlannedMessage) -> Claim | None:
        held = await self._records.read(message.idempotency_key)
        return None if held is None else decode(*held)

    async def unresolved(self) -> AsyncIterator[dict[str, str | float]]:
        """Every claim not (yet) confirmed as sent, for operators: `make claims`."""
        async for key, fields in self._records.scan():
            if key.startswith(NOT_CLAIMS):
                continue
            if fields.get("state") not in LISTED_AS_DONE:
                yield {KEY: key, **fields}


class ScanOpenClaims:
    """OpenClaims for a store without a sparse index (JetStream KV): every record read to find the open
    ones, so its cost grows with the log; DynamoOpenClaims asks the table's index instead."""

    def __init__(self, records: RecordStore) -> None:
        self._records = records

    async def _with(self, values: frozenset[str]) -> list[tuple[PlannedMessage, Claim]]:
        found: list[tuple[PlannedMessage, Claim]] = []
        async for key, fields in self._records.scan():
            if not key.startswith(NOT_CLAIMS) and fields.get(OPEN) in values:
                held = await self._records.read(key)  # for its revision, which a scan does not give
                if held is not None and held[0].get(OPEN) in values:
                    found.append(listed(key, *held))
        return found

    async def open_claims(self) -> list[tuple[PlannedMessage, Claim]]:
        return await self._with(frozenset({SWEEP}))

    async def to_reconcile(self) -> list[tuple[PlannedMessage, Claim]]:
        return await self._with(frozenset({RECONCILE, HANDSET}))
