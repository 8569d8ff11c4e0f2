"""Sent-message log in a JetStream key-value bucket: the worker's dedupe store, no AWS needed.

`create` succeeds only for an absent (or deleted) key, which makes claims atomic across workers; `update`
with the revision read is a compare-and-set, so a stale claim is reported unknown exactly once.

A write whose answer is lost (a timeout while a cluster moves the bucket's leader, a node dying mid-request)
may or may not have been stored, and only its writer knows what happened around it. So each claim carries
a random attempt token, and the writer remembers: its claims with nothing sent under them (a claim or a
release unanswered), which its next claim of that message takes over; and its sends whose confirmation
went unanswered, which its next claim of that message confirms. Anyone else sees a live claim.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

import nats.errors
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage

REMEMBERED = 10_000  # lost answers remembered at once, of each kind; beyond, the oldest are forgotten
T = TypeVar("T")


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """The store's own failures as the port's SentLogError; the answers the methods expect (a key
    that exists, or changed) are handled inside, before they get here."""
    try:
        yield
    except (nats.errors.Error, TimeoutError, OSError) as err:
        raise SentLogError(f"JetStream KV: {type(err).__name__}: {err}") from err


def _record(message: PlannedMessage, state: ClaimState, owner: str, at: float, **extra: str) -> bytes:
    body = {
        "state": state.value,
        "rule": message.rule,
        "booking_id": message.booking_id,
        "owner": owner,
        "at": at,
    }
    return json.dumps({**body, **extra}).encode()


def _claim_of(value: bytes | None, revision: int | None) -> Claim:
    data = json.loads(value or b"{}")
    return Claim(
        state=ClaimState(data.get("state", ClaimState.UNKNOWN.value)),
        owner=str(data.get("owner", "")),
        at=float(data.get("at", 0)),
        provider_id=str(data.get("provider_id", "")),
        revision=revision or 0,
        attempt=str(data.get("attempt", "")),
    )


def _note(memory: dict[str, str], key: str, value: str) -> None:
    if len(memory) >= REMEMBERED:
        del memory[next(iter(memory))]
    memory[key] = value


class NatsKvSentLog:
    def __init__(self, kv: KeyValue, owner: str) -> None:
        self._kv = kv
        self._owner = owner
        self._unsent: dict[str, str] = {}  # key -> attempt token of our claim with nothing sent under it
        self._unconfirmed: dict[str, str] = {}  # key -> provider id of our send not confirmed

    async def claim(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]:
        key = message.idempotency_key
        attempt = secrets.token_hex(8)
        record = _record(message, ClaimState.CLAIMED, owner, now, attempt=attempt)
        with _store_errors():
            try:
                revision = await self._noted(self._unsent, key, attempt, self._kv.create(key, record))
            except KeyWrongLastSequenceError:
                return await self._claimed_before(message, owner, now)
            # The key was free: whatever we remembered of it never landed.
            self._unsent.pop(key, None)
            self._unconfirmed.pop(key, None)
            return Claim(ClaimState.CLAIMED, owner, now, revision=revision, attempt=attempt), True

    async def _claimed_before(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]:
        key = message.idempotency_key
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:  # released between our create and our read: claim again
            return await self.claim(message, owner, now)
        found = _claim_of(entry.value, entry.revision)
        unsent, sent_as = self._unsent.pop(key, None), self._unconfirmed.pop(key, None)
        if found.state is ClaimState.CLAIMED and unsent and found.attempt == unsent:
            return await self._take_over(message, owner, now, found)
        if found.state is ClaimState.CLAIMED and sent_as is not None:
            return await self._confirm_late(message, owner, now, found, sent_as)
        return found, False

    async def _take_over(
        self, message: PlannedMessage, owner: str, now: float, found: Claim
    ) -> tuple[Claim, bool]:
        """Our claim with nothing sent under it: ours again, renewed from now, unless changed meanwhile."""
        key, attempt = message.idempotency_key, secrets.token_hex(8)
        record = _record(message, ClaimState.CLAIMED, owner, now, attempt=attempt)
        try:
            revision = await self._noted(
                self._unsent, key, attempt, self._kv.update(key, record, last=found.revision)
            )
        except KeyWrongLastSequenceError:
            return await self._claimed_before(message, owner, now)
        return Claim(ClaimState.CLAIMED, owner, now, revision=revision, attempt=attempt), True

    async def _confirm_late(
        self, message: PlannedMessage, owner: str, now: float, found: Claim, provider_id: str
    ) -> tuple[Claim, bool]:
        """The claim we sent under, its confirmation lost: confirmed now, so the send reads as sent."""
        key, at = message.idempotency_key, time.time()
        record = _record(message, ClaimState.SENT, self._owner, at, provider_id=provider_id)
        try:
            revision = await self._noted(
                self._unconfirmed, key, provider_id, self._kv.update(key, record, last=found.revision)
            )
        except KeyWrongLastSequenceError:
            return await self._claimed_before(message, owner, now)
        return Claim(ClaimState.SENT, self._owner, at, provider_id, revision), False

    async def _noted(self, memory: dict[str, str], key: str, value: str, write: Awaitable[T]) -> T:
        """The write's answer. A write whose answer is lost may or may not have been stored: `value` is
        remembered in `memory` before the error goes on."""
        try:
            return await write
        except KeyWrongLastSequenceError:
            raise
        except (nats.errors.Error, TimeoutError, OSError):
            _note(memory, key, value)
            raise

    async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        key = message.idempotency_key
        with _store_errors():
            record = _record(message, ClaimState.SENT, self._owner, time.time(), provider_id=provider_id)
            await self._noted(self._unconfirmed, key, provider_id, self._kv.put(key, record))

    async def release(self, message: PlannedMessage, claim: Claim) -> None:
        key = message.idempotency_key
        with _store_errors():
            # Conditional on the claim's revision: a claim reported unknown meanwhile is kept.
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self._noted(self._unsent, key, claim.attempt, self._kv.delete(key, last=claim.revision))

    async def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        with _store_errors():
            record = _record(message, ClaimState.UNKNOWN, previous.owner, previous.at, reason=reason[:500])
            try:
                await self._kv.update(message.idempotency_key, record, last=previous.revision)
            except KeyWrongLastSequenceError:
                return False
            return True

    async def lookup(self, message: PlannedMessage) -> Claim | None:
        with _store_errors():
            try:
                entry = await self._kv.get(message.idempotency_key)
            except KeyNotFoundError:  # KeyDeletedError is a subclass: a released claim is absent
                return None
            return _claim_of(entry.value, entry.revision)

    async def unresolved(self) -> AsyncIterator[dict[str, Any]]:
        """Every claim not (yet) confirmed as sent, for operators: `make claims STORE=nats`."""
        try:
            keys = await self._kv.keys()
        except NoKeysError:
            return
        for key in keys:
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                continue
            data = json.loads(entry.value or b"{}")
            if data.get("state") != ClaimState.SENT.value:
                yield {"idempotency_key": key, **data}
