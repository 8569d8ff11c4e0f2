"""The login guard: the shop's Naver account is the asset to protect, and repeated automated logins are
what get it challenged or locked. Every login passes the guard first.

The policy here is pure (no I/O, no clock): a state and what each event makes of it.
- `admit`: no login before a backoff has passed, and at most `max_per_hour` logins in any hour. The
  slot is taken (the login's time appended) BEFORE the browser starts, so a login that crashes midway
  still counts.
- `failed`: a login failed (or the fresh session it gave was refused at once): no login for a backoff
  that doubles with each failure in a row, from `first` up to `longest`.
- `succeeded`: a login's session worked: the failure streak ends (the hour's logins still count).

The state is shared by every execution environment (adapters/login_guard_store.py keeps it in the
sent-log table); a person ends a backoff with `make login-guard ACTION=clear` once its cause is fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from naver_sms.application.errors import LoginDeferred
from naver_sms.domain.phone import mask_phones_in

WINDOW_SECONDS = 3600.0  # the hour max_per_hour counts logins over
REASON_CHARS = 300  # the most of a failure's reason the guard keeps
CLEAR = "make login-guard ACTION=clear"
_MAX_DOUBLINGS = 62  # 2**62 times any backoff is past every cap; keeps the power finite
LAST_PRINTABLE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()  # iso_utc's latest


class LoginGuard(Protocol):
    async def admit(self) -> None:
        """Reserve a login slot, or raise LoginDeferred (nothing reserved)."""
        ...

    async def failed(self, reason: str) -> None:
        """A login failed, or a fresh session was refused at once."""
        ...

    async def succeeded(self) -> None:
        """A login's session worked: the failure streak ends."""
        ...


@dataclass(frozen=True)
class GuardState:
    failures: int = 0  # failed logins in a row
    blocked_until: float = 0.0  # seconds since the epoch; no login before it
    last_reason: str = ""  # why the last login failed (capped, phone numbers masked)
    logins: tuple[float, ...] = ()  # when logins were admitted within the last hour, oldest first


def iso_utc(epoch: float) -> str:
    """The time in ISO UTC, clamped to what can be printed (the epoch to the year 9999): a corrupted
    or foreign record's times never crash what shows them."""
    epoch = min(max(epoch, 0.0), LAST_PRINTABLE) if not math.isnan(epoch) else 0.0
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def clean_reason(reason: str) -> str:
    """What the guard stores of a reason: phone numbers masked (before the cut, so none is cut in two
    and missed), then capped. Operators and alerts read it."""
    masked = mask_phones_in(" ".join(reason.split()))
    return masked if len(masked) <= REASON_CHARS else masked[: REASON_CHARS - 1] + "…"


def recent(logins: tuple[float, ...], now: float) -> tuple[float, ...]:
    """The logins within the hour before `now`, oldest first (one stamped later than `now` by another
    environment's clock counts too)."""
    return tuple(sorted(at for at in logins if now - at < WINDOW_SECONDS))


def deferred(until: float, now: float, why: str) -> LoginDeferred:
    left = (until - now) / 60
    minutes = max(1, math.ceil(left)) if math.isfinite(left) else "many"
    return LoginDeferred(
        f"Naver login deferred: no attempt before {iso_utc(until)} ({minutes} min from now): {why}. "
        f"Once a person has fixed the cause, `{CLEAR}` allows the next login at once.",
        until=until,
    )


def admit(state: GuardState, now: float, max_per_hour: int) -> GuardState:
    """The state with a login at `now` reserved; raises LoginDeferred when none may happen now."""
    if now < state.blocked_until:
        last = f" (last: {state.last_reason})" if state.last_reason else ""
        why = f"backing off after {state.failures} failed login(s) in a row{last}"
        raise deferred(state.blocked_until, now, why)
    logins = recent(state.logins, now)
    if len(logins) >= max_per_hour:
        # A slot frees when enough of the hour's logins age out to leave fewer than max_per_hour.
        until = logins[len(logins) - max_per_hour] + WINDOW_SECONDS
        why = (
            f"{len(logins)} login(s) in the last hour already, the most allowed "
            f"(naver.max_logins_per_hour = {max_per_hour}) to keep the shop's account from being locked"
        )
        raise deferred(until, now, why)
    return replace(state, logins=(*logins, now))


def backoff(failures: int, first: float, longest: float) -> float:
    """first, 2 x first, 4 x first … for the 1st, 2nd, 3rd … failure in a row, never above longest."""
    return float(min(first * 2 ** min(max(failures - 1, 0), _MAX_DOUBLINGS), longest))


def failed(state: GuardState, now: float, reason: str, first: float, longest: float) -> GuardState:
    failures = state.failures + 1
    return replace(
        state,
        failures=failures,
        blocked_until=now + backoff(failures, first, longest),
        last_reason=clean_reason(reason),
    )


def succeeded(state: GuardState) -> GuardState:
    return replace(state, failures=0, blocked_until=0.0, last_reason="")
