"""The login guard (application/login_guard.py) over a record store: one record in the sent-log table,
so every execution environment reads and writes the same state.

Each change reads the record, applies the policy and writes the result with a compare-and-set on the
revision read (create when absent): two environments racing for the last login slot cannot both take
it, since the loser's write fails, it reads again and is deferred. The record's key is a hash of the
identity (login page and account), and it holds no username, password or cookie.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from naver_sms.adapters.sent_log import GUARD_PREFIX, Changed, Fields, RecordStore
from naver_sms.application import login_guard as policy
from naver_sms.application.errors import LoginDeferred, SentLogError
from naver_sms.application.login_guard import GuardState

TRIES = 8  # compare-and-set rounds before a change gives up (each loss means another writer moved on)
KIND = "login-guard"


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


def decode(fields: Fields) -> GuardState:
    logins = str(fields.get("logins", ""))
    return GuardState(
        failures=int(float(fields.get("failures", 0))),
        blocked_until=float(fields.get("blocked_until", 0)),
        last_reason=str(fields.get("last_reason", "")),
        logins=tuple(sorted(float(at) for at in logins.split(",") if at)),
    )


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

    async def _change(self, step: Callable[[GuardState, float], GuardState]) -> GuardState:
        """Read, apply `step` (which may raise LoginDeferred: nothing is written then), compare-and-set.
        A store failure (SentLogError) goes on to the caller."""
        for _ in range(TRIES):
            held = await self._records.read(self.key)
            state = GuardState() if held is None else decode(held[0])
            changed = step(state, self._clock())
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
        if held is None or decode(held[0]) == policy.succeeded(decode(held[0])):
            return  # no streak to end: no write on the common path
        await self._change(lambda state, now: policy.succeeded(state))

    def _describe(self, state: GuardState, now: float) -> dict[str, Any]:
        """What an operator sees of a state: times in ISO UTC, and whether a login may happen now."""
        logins = policy.recent(state.logins, now)
        shown: dict[str, Any] = {
            "key": self.key,
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
        held = await self._records.read(self.key)
        return self._describe(GuardState() if held is None else decode(held[0]), self._clock())

    async def clear(self) -> dict[str, Any]:
        """An empty state, whatever the record held (a person has fixed the cause); returns what it held."""
        held = await self._records.read(self.key)
        before = self._describe(GuardState() if held is None else decode(held[0]), self._clock())
        await self._records.put(self.key, encode(GuardState()))
        return before
