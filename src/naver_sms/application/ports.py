"""The ports the use cases need; adapters implement them, tests/support/fakes.py has a Fake of each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from naver_sms.domain.messages import PlannedMessage


class Authenticator(Protocol):
    def login(self) -> Mapping[str, str]:
        """Log in and return session cookies."""
        ...


class BookingSource(Protocol):
    def fetch(self, cookies: Mapping[str, str]) -> Sequence[object]:
        """Every booking record as the source sent it (decoded JSON): the use case validates each one
        on its own, so one bad record never hides the others."""
        ...


class SmsTransport(Protocol):
    def send(self, message: PlannedMessage) -> str:
        """Send one SMS; returns the provider's request id. Raises a DeliveryError subclass that says
        whether the SMS is known not to have gone out."""
        ...


class ClaimState(StrEnum):
    CLAIMED = "claimed"  # a process is sending it (or died while sending it)
    SENT = "sent"
    UNKNOWN = "unknown"  # it may have gone out; reported once, never resent automatically


@dataclass(frozen=True)
class Claim:
    """What the sent log holds for one idempotency key. `revision` lets a store compare-and-set."""

    state: ClaimState
    owner: str
    at: float  # seconds since the epoch when the state was written
    provider_id: str = ""
    revision: int = 0
    attempt: str = ""  # a random token written with the claim, by which its writer knows it again


class SentLog(Protocol):
    """Idempotency store keyed by PlannedMessage.idempotency_key."""

    def claim(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]:
        """Atomically record a claim. Returns what the key holds now and whether this call made it."""
        ...

    def confirm(self, message: PlannedMessage, provider_id: str) -> None: ...

    def release(self, message: PlannedMessage, claim: Claim) -> None:
        """Drop `claim` (if still unchanged) when its send is known not to have gone out, so a retry
        may send it."""
        ...

    def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        """Move `previous` (still unchanged) to UNKNOWN; False when someone else changed it first,
        which is how a stale claim is reported exactly once."""
        ...

    def lookup(self, message: PlannedMessage) -> Claim | None: ...


class Alerter(Protocol):
    def alert(self, text: str) -> None: ...


class AsyncSmsTransport(Protocol):
    """SmsTransport for an event loop: the same contract, awaited."""

    async def send(self, message: PlannedMessage) -> str: ...

    async def close(self) -> None:
        """Let go of connections (the worker's last step)."""
        ...


class AsyncSentLog(Protocol):
    """SentLog for an event loop: the same contract, awaited."""

    async def claim(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]: ...

    async def confirm(self, message: PlannedMessage, provider_id: str) -> None: ...

    async def release(self, message: PlannedMessage, claim: Claim) -> None: ...

    async def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool: ...

    async def lookup(self, message: PlannedMessage) -> Claim | None: ...
