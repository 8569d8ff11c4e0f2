"""The Naver session a warm execution environment keeps between scheduled runs.

A login is a browser start and a new-login alert to the account owner, and frequent automated logins
are what get an account challenged. So the cookies of the last login are kept in memory (never on disk,
never in a log or a result: no repr shows them) and tried first; they are given up when the booking
source says the session is over, or when they are older than the maximum age.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Login(StrEnum):
    FRESH = "fresh"  # this run logged in
    REUSED = "reused"  # this run used the session an earlier run logged in for


@dataclass(frozen=True)
class _Held:
    identity: str
    cookies: Mapping[str, str] = field(repr=False)
    since: float


class SessionKeeper:
    """One session, for one identity (the login page and account it was made for)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: _Held | None = None
        # The booking API asked this identity to wait (Retry-After) until then.
        self._quiet: tuple[str, float] = ("", 0.0)

    def asked_to_wait(self, identity: str, seconds: float) -> None:
        self._quiet = (identity, self._clock() + seconds)

    def wait_left(self, identity: str) -> float:
        """Seconds left of the booking API's last Retry-After: no request is made meanwhile."""
        asked, until = self._quiet
        return max(until - self._clock(), 0.0) if asked == identity else 0.0

    def current(self, identity: str, max_age_seconds: float) -> Mapping[str, str] | None:
        held = self._held
        if held is None or held.identity != identity or self._clock() - held.since >= max_age_seconds:
            return None
        return held.cookies

    def keep(self, identity: str, cookies: Mapping[str, str]) -> None:
        self._held = _Held(identity, dict(cookies), self._clock())

    def forget(self) -> None:
        self._held = None

    def __repr__(self) -> str:
        return f"SessionKeeper(held={self._held is not None})"
