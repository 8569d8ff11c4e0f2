"""The volume breaker: a scheduled run that would make more real sends than allowed sends none.

A rule edit, a changed key or a new shop account can make one run plan a message for every booking the
API returns; the sent log stops only the second of each. So a run counts what it would really send (the
messages the sent log has never seen) before sending any, and above the limit it holds them all and
says, per rule, what it held and how to go ahead once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from naver_sms.domain.messages import PlannedMessage

# The manual invoke that lets one run through: it must name the number, so nobody allows "whatever".
GO_AHEAD = '{{"action": "run", "dry_run": false, "allow_sends": {count}}}'


@dataclass(frozen=True)
class Held:
    """What a held run planned to send, and the limit it was over."""

    new: tuple[PlannedMessage, ...]
    limit: int
    allowed_by: str  # what set the limit: the setting, or the invoke's allow_sends

    def by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(m.rule for m in self.new).items()))

    def explain(self) -> str:
        rules = ", ".join(f"{rule} {count}" for rule, count in self.by_rule().items())
        return (
            f"this run would send {len(self.new)} SMS ({rules}), over {self.allowed_by} = {self.limit}: "
            "nothing was sent. Check them with `make preview`; to send exactly these once, invoke the "
            f"function with {GO_AHEAD.format(count=len(self.new))}, or raise SMS_MAX_PER_RUN"
        )

    def as_result(self) -> dict[str, object]:
        return {"new": len(self.new), "limit": self.limit, "by_rule": self.by_rule()}


def check(new: Sequence[PlannedMessage], limit: int, allow_sends: int | None) -> Held | None:
    """`allow_sends`: a manual invoke's go-ahead for one run. It replaces the setting for this run only,
    and a run over it is held too (the number names what a person looked at, not a new ceiling)."""
    if allow_sends is not None:
        return Held(tuple(new), allow_sends, "allow_sends") if len(new) > allow_sends else None
    return Held(tuple(new), limit, "sms.max_per_run") if len(new) > limit else None
