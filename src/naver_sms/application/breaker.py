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

# The manual invoke that lets one run through: it must name the very number held, so nobody allows
# "whatever" (a number that no longer matches is held again, with the new number).
GO_AHEAD = '{{"action": "run", "dry_run": false, "allow_sends": {count}}}'


@dataclass(frozen=True)
class Held:
    """What a held run planned to send, and the limit it was over."""

    new: tuple[PlannedMessage, ...]
    limit: int
    allow_sends: int | None  # the go-ahead the invoke gave, if any (it did not match)

    def by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(m.rule for m in self.new).items()))

    def explain(self) -> str:
        rules = ", ".join(f"{rule} {count}" for rule, count in self.by_rule().items())
        given = (
            f"; allow_sends {self.allow_sends} does not name that number"
            if self.allow_sends is not None
            else ""
        )
        return (
            f"this run would send {len(self.new)} SMS ({rules}), over sms.max_per_run = {self.limit}"
            f"{given}: nothing was sent. Check them with `make preview`; to send exactly these once, "
            f"invoke the function with {GO_AHEAD.format(count=len(self.new))}, or raise SMS_MAX_PER_RUN"
        )

    def keys(self) -> frozenset[str]:
        return frozenset(m.idempotency_key for m in self.new)

    def as_result(self) -> dict[str, object]:
        return {"new": len(self.new), "limit": self.limit, "by_rule": self.by_rule()}


def check(new: Sequence[PlannedMessage], limit: int, allow_sends: int | None) -> Held | None:
    """`allow_sends`: a manual invoke's go-ahead for one run, naming the number of new sends a person
    looked at (the alert's or `make preview`'s). It lets exactly that many through, once."""
    if len(new) <= limit or allow_sends == len(new):
        return None
    return Held(tuple(new), limit, allow_sends)


@dataclass(frozen=True)
class Lapsed:
    """Messages an earlier run held that this run no longer plans: their send windows closed while they
    were held, so they were never sent. Said once, so nobody believes they went out later."""

    count: int
    by_rule: dict[str, int]

    def explain(self) -> str:
        rules = ", ".join(f"{rule} {count}" for rule, count in self.by_rule.items())
        return (
            f"the volume breaker no longer holds the run, and {self.count} SMS it held ({rules}) are no "
            "longer planned: their send windows closed, and they were never sent"
        )


class HeldMemory:
    """What the last held run held, for the life of an execution environment: a run held again for the
    same messages alerts no more (its `Held` metric still counts), and the run after a hold says which
    held messages lapsed. A cold start forgets, so it alerts once more: a repeat, never a silence."""

    def __init__(self) -> None:
        self._held: tuple[PlannedMessage, ...] = ()

    def held(self, held: Held) -> bool:
        """Remember `held`; whether it is news (not the same messages as the last hold)."""
        news = held.keys() != frozenset(m.idempotency_key for m in self._held)
        self._held = held.new
        return news

    def passed(self, planned: Sequence[PlannedMessage]) -> Lapsed | None:
        """A run that was not held: the earlier hold's messages it no longer plans, once."""
        earlier, self._held = self._held, ()
        keys = {m.idempotency_key for m in planned}
        lapsed = [m for m in earlier if m.idempotency_key not in keys]
        if not lapsed:
            return None
        return Lapsed(len(lapsed), dict(sorted(Counter(m.rule for m in lapsed).items())))
