"""Sent-message log in a JetStream key-value bucket: the worker's dedupe store, no AWS needed.

`create` succeeds only for an absent (or deleted) key, which makes claims atomic across workers; `update`
with the revision read is a compare-and-set, so a stale claim is reported unknown exactly once.

A claim whose answer is lost (a timeout while a cluster moves the bucket's leader) may still be stored.
Only its writer knows nothing was sent under it, so each claim carries a random attempt token and the
writer remembers the tokens it got no answer for: its next claim of that message takes the claim over.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import nats.errors
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage

UNANSWERED_KEPT = 10_000  # claims with a lost answer remembered at once; beyond, the oldest age out


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


def _attempt_of(value: bytes | None) -> str:
    return str(json.loads(value or b"{}").get("attempt", ""))


def _claim_of(value: bytes | None, revision: int | None) -> Claim:
    data = json.loads(value or b"{}")
    return Claim(
        state=ClaimState(data.get("state", ClaimState.UNKNOWN.value)),
        owner=str(data.get("owner", "")),
        at=float(data.get("at", 0)),
        provider_id=str(data.get("provider_id", "")),
        revision=revision or 0,
    )


class NatsKvSentLog:
    def __init__(self, kv: KeyValue, owner: str) -> None:
        self._kv = kv
        self._owner = owner
        self._unanswered: dict[str, str] = {}  # idempotency key -> the attempt token of a lost claim

    async def claim(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]:
        key = message.idempotency_key
        attempt = secrets.token_hex(8)
        with _store_errors():
            try:
                revision = await self._write_claim(
                    key,
                    attempt,
                    self._kv.create(key, _record(message, ClaimState.CLAIMED, owner, now, attempt=attempt)),
                )
            except KeyWrongLastSequenceError:
                return await self._claimed_before(message, owner, now)
            self._unanswered.pop(key, None)  # the key was free: a claim remembered for it never landed
            return Claim(ClaimState.CLAIMED, owner, now, revision=revision), True

    async def _claimed_before(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]:
        key = message.idempotency_key
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:  # released between our create and our read: claim again
            return await self.claim(message, owner, now)
        if _attempt_of(entry.value) != self._unanswered.get(key):  # not one of our lost claims
            return _claim_of(entry.value, entry.revision), False
        del self._unanswered[key]
        # Our own claim, nothing sent under it: renewed from now, unless someone changed it meanwhile.
        attempt = secrets.token_hex(8)
        record = _record(message, ClaimState.CLAIMED, owner, now, attempt=attempt)
        try:
            revision = await self._write_claim(
                key, attempt, self._kv.update(key, record, last=entry.revision)
            )
        except KeyWrongLastSequenceError:
            return await self._claimed_before(message, owner, now)
        return Claim(ClaimState.CLAIMED, owner, now, revision=revision), True

    async def _write_claim(self, key: str, attempt: str, write: Awaitable[int]) -> int:
        """The claim write's revision. A write whose answer is lost may have been stored, so its attempt
        is remembered before the error goes on."""
        try:
            return await write
        except KeyWrongLastSequenceError:
            raise
        except (nats.errors.Error, TimeoutError, OSError):
            if len(self._unanswered) >= UNANSWERED_KEPT:
                del self._unanswered[next(iter(self._unanswered))]
            self._unanswered[key] = attempt
            raise

    async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        with _store_errors():
            record = _record(message, ClaimState.SENT, self._owner, time.time(), provider_id=provider_id)
            await self._kv.put(message.idempotency_key, record)

    async def release(self, message: PlannedMessage, claim: Claim) -> None:
        with _store_errors():
            # Conditional on the claim's revision: a claim reported unknown meanwhile is kept.
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self._kv.delete(message.idempotency_key, last=claim.revision)

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
