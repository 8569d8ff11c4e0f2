"""Small honest fakes of our own ports (application/ports.py), for fast unit tests of the use cases.

Each keeps real state and enforces the same contract the adapters do (compare-and-set on claims), so a
test that passes against them says something about the DynamoDB and NATS KV adapters too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from naver_sms.application.errors import NotDelivered, OutcomeUnknown, Refused
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage


@dataclass
class FakeSentLog:
    claims: dict[str, Claim] = field(default_factory=dict)

    def claim(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]:
        held = self.claims.get(message.idempotency_key)
        if held is not None:
            return held, False
        made = Claim(ClaimState.CLAIMED, owner, now, revision=1)
        self.claims[message.idempotency_key] = made
        return made, True

    def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        held = self.claims[message.idempotency_key]
        self.claims[message.idempotency_key] = replace(
            held, state=ClaimState.SENT, provider_id=provider_id, revision=held.revision + 1
        )

    def release(self, message: PlannedMessage, claim: Claim) -> None:
        if self.claims.get(message.idempotency_key) == claim:
            del self.claims[message.idempotency_key]

    def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        if self.claims.get(message.idempotency_key) != previous:
            return False
        self.claims[message.idempotency_key] = replace(
            previous, state=ClaimState.UNKNOWN, revision=previous.revision + 1
        )
        return True

    def lookup(self, message: PlannedMessage) -> Claim | None:
        return self.claims.get(message.idempotency_key)

    def state(self, message: PlannedMessage) -> ClaimState | None:
        found = self.lookup(message)
        return None if found is None else found.state


Answer = Callable[[PlannedMessage], str]


def accepted(message: PlannedMessage) -> str:
    return f"req-{message.idempotency_key[:8]}"


def not_delivered(retry_after: float | None = None) -> Answer:
    def answer(message: PlannedMessage) -> str:
        raise NotDelivered("connection refused", retry_after=retry_after)

    return answer


def refused(message: PlannedMessage) -> str:
    raise Refused("SENS refused the message: HTTP 400")


def unknown(message: PlannedMessage) -> str:
    raise OutcomeUnknown("SENS answered HTTP 503")


def crashes(message: PlannedMessage) -> str:
    raise RuntimeError("a bug in the transport")


@dataclass
class FakeTransport:
    """Answers each send with `answer` and remembers every message it was asked to send."""

    answer: Answer = accepted
    sent: list[PlannedMessage] = field(default_factory=list)

    def send(self, message: PlannedMessage) -> str:
        self.sent.append(message)
        return self.answer(message)


class Awaited:
    """A fake's methods as coroutines: the same fake, and its state, behind an async port."""

    def __init__(self, fake: object) -> None:
        self.fake = fake

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.fake, name)

        async def awaited(*args: Any) -> Any:
            return method(*args)

        return awaited


@dataclass
class FakeAuth:
    cookies: Mapping[str, str] = field(default_factory=lambda: {"NID_SES": "session"})

    def login(self) -> Mapping[str, str]:
        return self.cookies


@dataclass
class FakeBookingSource:
    records: Sequence[object]
    seen_cookies: list[Mapping[str, str]] = field(default_factory=list)

    def fetch(self, cookies: Mapping[str, str]) -> Sequence[object]:
        self.seen_cookies.append(cookies)
        return self.records
