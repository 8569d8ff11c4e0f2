"""A sent log's lifecycle, written once over a record store's primitives (create, read, compare-and-set
replace and delete, put, scan): DynamoDB and JetStream KV differ only in those, and one claim-record
codec is what both store.

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
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Protocol, TypeVar

from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import REASON_CHARS, Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage

REMEMBERED = 10_000  # lost answers remembered at once, of each kind; beyond, the oldest are forgotten
KEY = "idempotency_key"  # what a listed record calls its key
REPORT, PENDING = "report", "pending"  # an unknown's report: pending until a run or worker has made it
# On every record that still needs a look (a claim not yet settled, an unknown not yet reported), so a
# store with a sparse index on it can list them without reading the rest (the Lambda's sweep).
OPEN = "open"
# The login guard's record (login_guard_store.py) shares the Lambda's table: not a claim, never listed.
GUARD_PREFIX = "login-guard#"
# Read-decide-write steps one claim takes before it gives up (SentLogError): each step past the first
# means another writer changed the record between this one's read and its write.
CLAIM_STEPS = 8
T = TypeVar("T")
Fields = dict[str, str | float]


class Changed(Exception):
    """A compare-and-set lost: the key exists (create) or no longer holds the revision given."""


class RecordStore(Protocol):
    """A store's primitives. Each raises Changed when its condition fails and SentLogError when the store
    fails or its answer is lost (the write may then have been stored or not)."""

    async def create(self, key: str, fields: Fields) -> str:
        """Store `fields` under an absent key; returns the new revision."""
        ...

    async def read(self, key: str) -> tuple[Fields, str] | None: ...

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        """Store `fields` if the key still holds `revision`; returns the new revision."""
        ...

    async def delete(self, key: str, revision: str) -> None:
        """Drop the key if it still holds `revision`."""
        ...

    async def put(self, key: str, fields: Fields) -> str:
        """Store `fields` whatever the key holds."""
        ...

    def scan(self) -> AsyncIterator[tuple[str, Fields]]:
        """Every key and its fields, for operators."""
        ...


def encode(message: PlannedMessage, state: ClaimState, owner: str, at: float, **extra: str) -> Fields:
    """The claim record: no phone number and no text, ever (operators list these)."""
    fields: Fields = {
        "state": state.value,
        "rule": message.rule,
        "booking_id": message.booking_id,
        "owner": owner,
        "at": float(at),
    }
    fields.update(
        (name, value[:REASON_CHARS] if name == "reason" else value) for name, value in extra.items()
    )
    if state is ClaimState.CLAIMED or extra.get(REPORT) == PENDING:
        fields[OPEN] = "1"
    return fields


def decode(fields: Mapping[str, str | float], revision: str) -> Claim:
    return Claim(
        state=ClaimState(str(fields.get("state", ClaimState.UNKNOWN.value))),
        owner=str(fields.get("owner", "")),
        at=float(fields.get("at", 0)),
        provider_id=str(fields.get("provider_id", "")),
        revision=revision,
        attempt=str(fields.get("attempt", "")),
        # Written with the mark, dropped once reported; a mark from before this field was reported.
        report_pending=fields.get(REPORT) == PENDING,
    )


def _note(memory: dict[str, str], key: str, value: str) -> None:
    if len(memory) >= REMEMBERED:
        del memory[next(iter(memory))]
    memory[key] = value


class StoreSentLog:
    """The SentLog port over one RecordStore, for one writer: `owner` is written into its claims and
    confirmations, and its memory of lost answers is its own."""

    def __init__(self, records: RecordStore, owner: str) -> None:
        self._records = records
        self._owner = owner
        self._unsent: dict[str, str] = {}  # key -> attempt token of our claim with nothing sent under it
        self._unconfirmed: dict[str, str] = {}  # key -> provider id of our send not confirmed

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
        fields = encode(message, ClaimState.CLAIMED, self._owner, now, attempt=attempt)
        try:
            revision = await self._noted(self._unsent, key, attempt, self._records.create(key, fields))
        except Changed:
            held = await self._records.read(key)
            # None: released between our create and our read, so the next step creates again.
            return None if held is None else await self._claimed_before(message, now, decode(*held))
        # The key was free: whatever we remembered of it never landed.
        self._unsent.pop(key, None)
        self._unconfirmed.pop(key, None)
        return Claim(ClaimState.CLAIMED, self._owner, now, revision=revision, attempt=attempt), True

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
        fields = encode(message, ClaimState.CLAIMED, self._owner, now, attempt=attempt)
        try:
            revision = await self._noted(
                self._unsent, key, attempt, self._records.replace(key, fields, found.revision)
            )
        except Changed:
            return None
        return Claim(ClaimState.CLAIMED, self._owner, now, revision=revision, attempt=attempt), True

    async def _confirm_late(
        self, message: PlannedMessage, found: Claim, provider_id: str
    ) -> tuple[Claim, bool] | None:
        """The claim we sent under, its confirmation lost: confirmed now, so the send reads as sent;
        None if changed meanwhile."""
        key, at = message.idempotency_key, time.time()
        fields = encode(message, ClaimState.SENT, self._owner, at, provider_id=provider_id)
        try:
            revision = await self._noted(
                self._unconfirmed, key, provider_id, self._records.replace(key, fields, found.revision)
            )
        except Changed:
            return None
        return Claim(ClaimState.SENT, self._owner, at, provider_id, revision), False

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
        fields = encode(message, ClaimState.SENT, self._owner, time.time(), provider_id=provider_id)
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
            **{REPORT: PENDING},
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
        fields = {name: value for name, value in held[0].items() if name not in (REPORT, OPEN)}
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
            if key.startswith(GUARD_PREFIX):
                continue
            if fields.get("state") != ClaimState.SENT.value:
                yield {KEY: key, **fields}
