"""The login guard (application/login_guard.py) over a record store: one record in the sent-log table,
so every execution environment reads and writes the same state.

Each change reads the record, applies the policy and writes the result with a compare-and-set on the
revision read (create when absent): two environments racing for the last login slot cannot both take
it, since the loser's write fails, it reads again and is deferred. The record's key is a hash of the
identity (login page and account), and it holds no username, password or cookie.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from naver_sms.adapters.record_store import Held, Stored
from naver_sms.adapters.sent_log import GUARD_PREFIX, Changed, Fields, RecordStore
from naver_sms.application import login_guard as policy
from naver_sms.application.errors import LoginDeferred, SentLogError
from naver_sms.application.login_guard import GuardState

log = logging.getLogger(__name__)
TRIES = 8  # compare-and-set rounds before a change gives up (each loss means another writer moved on)
KIND = "login-guard"
SKEW = 300.0  # a login stamped further ahead than this (another clock running fast) counts as now
BLOCK_SKEW = 3600.0  # a backoff ending this much past the longest one ends after the longest from now
MAX_FAILURES = 1_000_000  # more failures in a row than any guard could record: a corrupted record
ABSURD = 1e11  # seconds since the epoch (year 5138): no stored number is larger


def guard_key(identity: str) -> str:
    return GUARD_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:16]


def encode(state: GuardState) -> Fields:
    """The record's fields. Fields hold str or float only: the logins are one comma-joined string, and
    empty strings are left out."""
    fields: Fields = {
        "kind": KIND,
        "failures": float(state.failures),
        "blocked_until": float(state.blocked_until),
    }
    if state.last_reason:
        fields["last_reason"] = state.last_reason
    if state.logins:
        fields["logins"] = ",".join(f"{at:.3f}" for at in state.logins)
    return fields


def _number(value: str | float) -> float | None:
    """A stored number, or None when it is not one a guard could have written: unparsable, not
    finite, negative or absurdly large."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and 0 <= number <= ABSURD else None


def read_record(
    fields: Stored, now: float, first_backoff: float, longest_backoff: float
) -> tuple[GuardState, list[str]]:
    """The state a record holds as of `now`, and what had to be repaired in it (empty for a record as
    this guard writes it). Never raises: a corrupted or foreign record must not crash every run, nor
    block `make login-guard ACTION=clear`.

    - A field that cannot be read (kind, failures, blocked_until) makes a backoff of the first length
      from `now`, its reason naming the field: fail closed, but bounded.
    - A login stamp that cannot be read is dropped, but counts as one login at `now` (conservative).
    - Clock skew: a login stamped more than SKEW seconds ahead counts as made `now`, and a backoff
      ending more than the longest backoff plus an hour ahead ends at `now` + the longest: another
      environment's fast clock cannot block logins for long.
    A repaired state must be written back (StoreLoginGuard does), or its backoff would restart at every
    read."""
    unreadable: list[str] = []
    repaired: list[str] = []
    kind = fields.get("kind", KIND)
    if kind != KIND:
        unreadable.append("kind")
    failures = _number(fields.get("failures", 0.0))
    if failures is None or failures > MAX_FAILURES:
        unreadable.append("failures")
        failures = None
    blocked_until = _number(fields.get("blocked_until", 0.0))
    if blocked_until is None:
        unreadable.append("blocked_until")
    elif blocked_until > now + longest_backoff + BLOCK_SKEW:
        repaired.append("blocked_until past the longest backoff: ends after the longest from now")
        blocked_until = now + longest_backoff
    logins: list[float] = []
    for stamp in str(fields.get("logins", "")).split(","):
        if not stamp.strip():
            continue
        at = _number(stamp)
        if at is None:
            repaired.append(f"a login stamp could not be read ({stamp[:20]!r}): counted at now")
            at = now
        elif at > now + SKEW:
            repaired.append("a login stamp in the future: counted at now")
            at = now
        logins.append(at)
    state = GuardState(
        failures=int(failures or 0),
        blocked_until=blocked_until or 0.0,
        last_reason=policy.clean_reason(str(fields.get("last_reason", ""))),
        logins=tuple(sorted(logins)),
    )
    if unreadable:
        state = replace(
            state,
            failures=max(state.failures, 1),
            blocked_until=max(min(state.blocked_until, now + longest_backoff), now + first_backoff),
            last_reason=f"the guard's record could not be read: {', '.join(unreadable)}",
        )
        repaired.insert(0, state.last_reason)
    return state, repaired


def decode(fields: Stored, now: float, first_backoff: float, longest_backoff: float) -> GuardState:
    """The state a record holds as of `now`, repaired as read_record says."""
    return read_record(fields, now, first_backoff, longest_backoff)[0]


class StoreLoginGuard:
    """The LoginGuard port over one RecordStore record, for one identity."""

    def __init__(
        self,
        records: RecordStore,
        identity: str,
        *,
        max_per_hour: int,
        first_backoff: float,
        longest_backoff: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._records = records
        self.key = guard_key(identity)  # the identity itself is never stored, nor kept here
        self._max_per_hour = max_per_hour
        self._first = first_backoff
        self._longest = longest_backoff
        self._clock = clock

    def _read(self, held: Held | None, now: float) -> tuple[GuardState, list[str]]:
        if held is None:
            return GuardState(), []
        return read_record(held[0], now, self._first, self._longest)

    async def _change(self, step: Callable[[GuardState, float], GuardState]) -> GuardState:
        """Read, apply `step` (which may raise LoginDeferred: nothing is written then, unless the record
        had to be repaired), compare-and-set. A store failure (SentLogError) goes on to the caller."""
        for _ in range(TRIES):
            held = await self._records.read(self.key)
            now = self._clock()
            state, repaired = self._read(held, now)
            try:
                changed = step(state, now)
            except LoginDeferred:
                if held is None or not repaired:
                    raise
                # The repaired state is written, so its backoff and its clamped stamps run from now
                # on, rather than starting over at every read.
                log.warning("the login guard's record was repaired", extra={"repaired": repaired})
                try:
                    await self._records.replace(self.key, encode(state), held[1])
                except Changed:
                    continue  # another environment wrote first: decide again on what it wrote
                raise
            fields = encode(changed)
            try:
                if held is None:
                    await self._records.create(self.key, fields)
                else:
                    await self._records.replace(self.key, fields, held[1])
            except Changed:
                continue  # another environment wrote first: decide again on what it wrote
            return changed
        raise SentLogError(f"the login guard's record {self.key} changed under each of {TRIES} writes")

    async def admit(self) -> None:
        # Fail closed: when the store cannot be read or written (SentLogError), no login happens. The
        # error goes on, the run fails and alerts; a login the guard cannot count is the risk it exists
        # to prevent.
        await self._change(lambda state, now: policy.admit(state, now, self._max_per_hour))

    async def failed(self, reason: str) -> None:
        # A store error here goes on too: the run fails and alerts, and the next run's admit reads the
        # store again (and fails closed while it is down).
        await self._change(lambda state, now: policy.failed(state, now, reason, self._first, self._longest))

    async def succeeded(self) -> None:
        held = await self._records.read(self.key)
        state, repaired = self._read(held, self._clock())
        if held is None or (not repaired and state == policy.succeeded(state)):
            return  # no streak to end: no write on the common path
        await self._change(lambda state, now: policy.succeeded(state))

    def _describe(self, held: Held | None, now: float) -> dict[str, Any]:
        """What an operator sees of a record: times in ISO UTC, and whether a login may happen now."""
        state, repaired = self._read(held, now)
        logins = policy.recent(state.logins, now)
        shown: dict[str, Any] = {
            "key": self.key,
            "record": "none yet" if held is None else "; ".join(repaired) or "as stored",
            "failures_in_a_row": state.failures,
            "blocked_until": policy.iso_utc(state.blocked_until) if state.blocked_until > now else None,
            "last_reason": state.last_reason,
            "logins_last_hour": [policy.iso_utc(at) for at in logins],
            "max_logins_per_hour": self._max_per_hour,
        }
        try:
            policy.admit(state, now, self._max_per_hour)
        except LoginDeferred as err:
            shown.update(next_login=policy.iso_utc(err.until), deferred=str(err))
        else:
            shown.update(next_login="now", deferred=None)
        return shown

    async def show(self) -> dict[str, Any]:
        return self._describe(await self._records.read(self.key), self._clock())

    async def clear(self) -> dict[str, Any]:
        """An empty state, whatever the record held (a person has fixed the cause); returns what it held.
        The empty state is written even when the old record cannot be read or described."""
        try:
            before = self._describe(await self._records.read(self.key), self._clock())
        except Exception as err:  # noqa: BLE001  (clearing is how a person gets out of a bad record)
            problem = policy.clean_reason(f"{type(err).__name__}: {err}")
            before = {"key": self.key, "record": f"could not be read or described: {problem}"}
        await self._records.put(self.key, encode(GuardState()))
        return before
