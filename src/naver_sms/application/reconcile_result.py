"""What one reconciler pass did, for its entry point to log, alert and count. No phone number and no
text: a handset failure names the phone masked (domain.phone.mask_phone), as a log may."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from naver_sms.application.ports import Claim
from naver_sms.domain.messages import PlannedMessage


@dataclass(frozen=True)
class Settled:
    """One record the pass moved, or left with a reason."""

    idempotency_key: str
    rule: str
    booking_id: str
    reason: str = ""

    @classmethod
    def of(cls, message: PlannedMessage, reason: str = "") -> Settled:
        return cls(message.idempotency_key, message.rule, message.booking_id, reason)


@dataclass(frozen=True)
class HandsetFailure:
    """A send SENS accepted whose handset never got it: to be alerted once (only the pass whose write
    recorded it reports it)."""

    idempotency_key: str
    rule: str
    booking_id: str
    masked_phone: str
    status_code: str
    status_name: str

    def as_record(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "rule": self.rule,
            "booking_id": self.booking_id,
            "phone": self.masked_phone,
            "status_code": self.status_code,
            "status_name": self.status_name,
        }


@dataclass
class ReconcileResult:
    """Filled in as the pass goes; complete when Reconciler.run returns it."""

    resolved_sent: list[Settled] = field(default_factory=list)  # unknown → sent: SENS had it
    released: list[Settled] = field(default_factory=list)  # never accepted: the next run sends it
    expired: list[Settled] = field(default_factory=list)  # never accepted, its window closed: not sent
    still_unknown: list[Settled] = field(default_factory=list)  # each with why
    delivered: int = 0
    handset_failed: list[HandsetFailure] = field(default_factory=list)
    handset_given_up: list[Settled] = field(default_factory=list)  # no result within the give-up time
    waiting: int = 0  # too recent to decide (a window not settled, a handset result not in): next pass
    changed: int = 0  # moved by someone else between the listing and this pass's write
    left: int = 0  # not looked at: the pass's time budget ran out
    errors: list[Settled] = field(default_factory=list)  # the sent log or SENS failed for this record
    # SENS's reads in this pass that answered, and those that failed: a pass whose every read failed
    # could conclude nothing at all (SENS down, or answering in a way this reader refuses).
    sens_answered: int = 0
    sens_failed: int = 0
    stopped: str = ""  # why the pass stopped before its list was done (cut off, SENS unreachable)

    @property
    def sens_unreadable(self) -> bool:
        return self.sens_failed > 0 and self.sens_answered == 0

    def counts(self) -> dict[str, int]:
        return {
            "resolved_sent": len(self.resolved_sent),
            "released": len(self.released),
            "expired": len(self.expired),
            "still_unknown": len(self.still_unknown),
            "delivered": self.delivered,
            "handset_failed": len(self.handset_failed),
            "handset_given_up": len(self.handset_given_up),
            "waiting": self.waiting,
            "changed": self.changed,
            "left": self.left,
            "errors": len(self.errors),
        }


Listed = tuple[PlannedMessage, Claim]
