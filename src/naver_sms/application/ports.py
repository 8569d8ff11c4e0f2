"""The ports the use cases need; adapters implement them, tests use Fake* versions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from naver_sms.domain.booking import Booking
from naver_sms.domain.messages import PlannedMessage


class Authenticator(Protocol):
    def login(self) -> Mapping[str, str]:
        """Log in and return session cookies."""
        ...


class BookingSource(Protocol):
    def fetch(self, cookies: Mapping[str, str]) -> Sequence[Booking]: ...


class SmsTransport(Protocol):
    def send(self, message: PlannedMessage) -> str:
        """Send one SMS; returns the provider's request id. Raises DeliveryError."""
        ...


class SentLog(Protocol):
    """Idempotency store keyed by PlannedMessage.idempotency_key."""

    def claim(self, message: PlannedMessage) -> bool:
        """Atomically reserve the key; False when it was already claimed (sent or in flight)."""
        ...

    def confirm(self, message: PlannedMessage, provider_id: str) -> None: ...

    def release(self, message: PlannedMessage) -> None:
        """Drop a claim whose send failed, so a retry may send it."""
        ...

    def contains(self, message: PlannedMessage) -> bool: ...


class Alerter(Protocol):
    def alert(self, text: str) -> None: ...
