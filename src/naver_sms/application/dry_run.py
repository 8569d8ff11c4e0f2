"""The one dry-run decision, and what a dry run plugs into the ports so that nothing can be sent.

Settings are a ceiling: a request may ask for a dry run, never for real sends the settings forbid.
"""

from __future__ import annotations

from naver_sms.application.ports import Claim
from naver_sms.domain.messages import PlannedMessage


class RealSendsNotAllowed(ValueError):
    """The request asks for real sends that the settings (SMS_DRY_RUN) forbid: nothing was built."""


def decide_dry_run(settings_dry_run: bool, requested: bool | None) -> bool:
    """`requested` is what the event asked for (None: nothing). Raises when it asks for more than allowed."""
    if requested is False and settings_dry_run:
        raise RealSendsNotAllowed(
            "the event asks for real sends (dry_run: false) but these settings allow dry runs only: "
            "set SMS_DRY_RUN=false (outside production) to allow them"
        )
    return settings_dry_run or bool(requested)


class RefusingTransport:
    """A dry run's transport: if anything ever reached it, it fails loudly instead of sending."""

    async def send(self, message: PlannedMessage) -> str:
        raise AssertionError(f"a dry run tried to send {message.idempotency_key}")

    async def close(self) -> None:
        pass  # nothing was ever opened


class UnrecordedSentLog:
    """A dry-run worker's sent log: it never reads the real one (a dry-run worker writes none, and its
    events stay on the event loop with no round trip to a store), so every decision is a would-send."""

    async def lookup(self, message: PlannedMessage) -> Claim | None:
        return None

    async def claim(self, message: PlannedMessage, now: float) -> tuple[Claim, bool]:
        raise AssertionError(f"a dry run tried to claim {message.idempotency_key}")

    async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        raise AssertionError(f"a dry run tried to confirm {message.idempotency_key}")

    async def release(self, message: PlannedMessage, claim: Claim) -> None:
        raise AssertionError(f"a dry run tried to release {message.idempotency_key}")

    async def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        raise AssertionError(f"a dry run tried to mark {message.idempotency_key}")

    async def reported(self, key: str) -> None:
        raise AssertionError(f"a dry run tried to acknowledge {key}")
