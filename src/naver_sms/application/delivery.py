"""Deliver one planned message at most once, and say what happened: the semantics table in
docs/architecture.md, row by row, written once for both images.

Claim → send → confirm. Only a failure known to precede delivery releases the claim (a later try may
send); anything that may have reached the provider leaves the claim as UNKNOWN, reported and never resent
(reported once, or twice when the sent log lost the mark's answer and did not keep it: never silent). A
claim nobody confirmed within its lease (the process died) becomes UNKNOWN the same way.

A real send may also wait for a turn under an optional SendCeiling (the worker's per-minute ceiling;
application/send_ceiling.py says why it waits rather than naks): taken with the send slot, before the
claim, given back when nothing went out under it. A key already sent or unknown, looked up while the
ceiling is full, is answered at once without a turn. Without a ceiling (the default) nothing waits for one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from naver_sms.application.errors import NotDelivered, OutcomeUnknown, Refused, SentLogError
from naver_sms.application.ports import Claim, ClaimState, SentLog, SmsTransport, Standing, standing
from naver_sms.application.send_ceiling import SendCeiling
from naver_sms.domain.frozen import quick_init
from naver_sms.domain.messages import PlannedMessage
from naver_sms.domain.phone import mask_phone, mask_phones_in

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SENT = "sent"
    DRY_RUN = "dry_run"
    DUPLICATE = "duplicate"  # sent before: nothing sent now
    IN_FLIGHT = "in_flight"  # another process holds a live claim: look again later
    UNKNOWN = "unknown"  # may have gone out: reported now, never resent
    STILL_UNKNOWN = "still_unknown"  # reported as unknown before: nothing more to do
    RETRY = "retry"  # known not sent; a later try may pass
    REFUSED = "refused"  # the provider refused it; not sent
    INVALID = "invalid"  # the booking or its message cannot be sent as it is


FAILURES = frozenset({Outcome.UNKNOWN, Outcome.RETRY, Outcome.REFUSED, Outcome.INVALID})
TRY_AGAIN = frozenset({Outcome.RETRY, Outcome.IN_FLIGHT})


@quick_init
@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    rule: str
    booking_id: str
    idempotency_key: str
    provider_id: str = ""
    reason: str = ""
    retry_after: float | None = None

    @classmethod
    def of(cls, message: PlannedMessage, outcome: Outcome, **details: Any) -> Delivery:
        return cls(outcome, message.rule, message.booking_id, message.idempotency_key, **details)

    def as_record(self) -> dict[str, Any]:
        """What results, alerts and notification subjects carry: never the phone number or the text."""
        record: dict[str, Any] = {
            "outcome": self.outcome.value,
            "idempotency_key": self.idempotency_key,
            "rule": self.rule,
            "booking_id": self.booking_id,
        }
        if self.provider_id:
            record["provider_id"] = self.provider_id
        if self.reason:
            # A provider's answer may quote the number it refused: records reach Slack and NATS.
            record["reason"] = mask_phones_in(self.reason)
        return record


def every_line() -> bool:
    return True


@dataclass(frozen=True)
class _Answer:
    """The transport's answer to one send: a provider id, or the error it raised (never raised on, so
    what follows the send runs after its slot is given back)."""

    provider_id: str = ""
    error: Exception | None = None


class _Slot:
    """One of the deliverer's send slots, held from before the claim (so a claim's lease never covers a
    wait for a slot) until the send has answered: the context ends where the send ends, and its exit gives
    the slot back whatever the path out (no send, an answer, an error, a cancellation); only a cancellation
    while waiting for a ceiling turn gives it back at the entry, the context never having begun. The
    confirm and the caller's record come after it. With a ceiling, the slot also takes a turn under it
    (after the slot, so the turn is stamped just before the claim and the send): kept once a send may have
    gone out, given back at the exit otherwise."""

    def __init__(self, slots: asyncio.Semaphore, ceiling: SendCeiling | None) -> None:
        self._slots = slots
        self._ceiling = ceiling
        self._turn: float | None = None  # the ceiling's stamp, while it may still be given back
        self._may_have_gone_out = False

    async def __aenter__(self) -> _Slot:
        await self._slots.acquire()
        if self._ceiling is not None:
            try:
                self._turn = await self._ceiling.take()
            except BaseException:
                self._slots.release()  # cancelled while waiting for a turn: it took none
                raise
        return self

    async def send(self, transport: SmsTransport, message: PlannedMessage) -> _Answer:
        """The one send under this slot. From the moment the request may leave, the turn counts, whatever
        happens to it (a cancellation mid-request included), unless the answer says nothing went out."""
        self._may_have_gone_out = True
        try:
            return _Answer(provider_id=await transport.send(message))
        except (NotDelivered, Refused) as err:
            self._may_have_gone_out = False
            return _Answer(error=err)
        except Exception as err:  # noqa: BLE001  (OutcomeUnknown, or a transport bug: settled as unknown)
            return _Answer(error=err)

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()
        if not self._may_have_gone_out and self._ceiling is not None and self._turn is not None:
            self._ceiling.give_back(self._turn)  # nothing went out under this slot's turn


@dataclass(frozen=True, kw_only=True)
class Deliverer:
    """The Lambda delivers one message at a time (one slot); the worker passes its concurrency. Who
    claims is the sent log's (given once, where it is built)."""

    transport: SmsTransport
    sent_log: SentLog
    lease_seconds: float  # longer than any one send can take, retries included (checked in settings)
    dry_run: bool
    send_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    # Whether this dry-run decision gets a line of its own. A worker decides as fast as events arrive, so
    # it passes a LineBudget's take; its outcome is the same either way.
    dry_run_line: Callable[[], bool] = every_line
    # Wall-clock seconds for claims and their ages: when a claim is written or read, not the rules'
    # `now`, which stays one instant for a whole run (a claim 200 s into a run is not 200 s old).
    clock: Callable[[], float] = time.time
    # The worker's per-minute ceiling on real sends; None (the Lambda): no ceiling here.
    send_ceiling: SendCeiling | None = None

    async def deliver(self, message: PlannedMessage) -> Delivery:
        if self.dry_run:
            found = await self.sent_log.lookup(message)
            if found is not None:
                return await self._existing(message, found, report=False)
            return self._logged(Delivery.of(message, Outcome.DRY_RUN), message)
        if self.send_ceiling is not None and self.send_ceiling.full():
            # About to wait for a turn: a key sent or reported before needs none (a replayed stream).
            found = await self.sent_log.lookup(message)
            if found is not None and found.state is not ClaimState.CLAIMED:
                return await self._existing(message, found, report=True)
        async with _Slot(self.send_slots, self.send_ceiling) as slot:
            claim, created = await self.sent_log.claim(message, self.clock())
            answer = await slot.send(self.transport, message) if created else None
        if answer is None:  # another sender's claim, or a settled one: nothing was sent
            return await self._existing(message, claim, report=True)
        return self._logged(await self._settle(message, claim, answer), message)

    async def _settle(self, message: PlannedMessage, claim: Claim, answer: _Answer) -> Delivery:
        """The sent log told what the send's answer says about the SMS (the send slot is free by now)."""
        err = answer.error
        if isinstance(err, NotDelivered):
            await self.sent_log.release(message, claim)
            return Delivery.of(message, Outcome.RETRY, reason=str(err), retry_after=err.retry_after)
        if isinstance(err, Refused):
            await self.sent_log.release(message, claim)
            return Delivery.of(message, Outcome.REFUSED, reason=str(err))
        if isinstance(err, OutcomeUnknown):
            await self._mark_unknown(message, claim, mask_phones_in(str(err)))
            return Delivery.of(message, Outcome.UNKNOWN, reason=str(err))
        if err is not None:
            # A transport bug may strike before or after the request left: treat it as unknown.
            log.error("sms transport failed unexpectedly", exc_info=err)
            reason = f"unexpected {type(err).__name__} while sending"
            await self._mark_unknown(message, claim, reason)
            return Delivery.of(message, Outcome.UNKNOWN, reason=reason)
        try:
            await self.sent_log.confirm(message, answer.provider_id)
        except SentLogError as err:
            # The SMS went out: say so. The claim stays, so it is never resent; once its lease ends it
            # is reported as unknown, which is the truth as far as the log can tell.
            log.error("sms sent but not confirmed in the sent log", extra={"error": str(err)})
        return Delivery.of(message, Outcome.SENT, provider_id=answer.provider_id)

    async def look_again(self, message: PlannedMessage) -> Delivery | None:
        """A record the sent log still has open, whatever anyone plans today (the Lambda's sweep): a
        stale claim is reported unknown, an unknown never reported is reported; None when the key holds
        nothing any more. Nothing is ever sent from here."""
        claim = await self.sent_log.lookup(message)
        return None if claim is None else await self._existing(message, claim, report=True)

    async def _existing(self, message: PlannedMessage, claim: Claim, *, report: bool) -> Delivery:
        """What a claim this delivery did not make means now; with `report`, a stale one is marked unknown.
        A mark that loses its compare-and-set (someone changed the claim between the two reads) reads the
        key once more and classifies what it holds without reporting (whoever changed it reports it): two
        reads at most, never a loop."""
        # A claim stamped ahead of this clock (another host's runs fast) counts as just made: its lease
        # is waited out from now, never for as long as the clocks differ.
        age = max(self.clock() - claim.at, 0.0)
        if not report or standing(claim.state, age, self.lease_seconds) is not Standing.STALE:
            return self._classify(message, claim, age, report=report)
        reason = f"claimed by {claim.owner} {age:.0f} s ago and never confirmed: the sender stopped mid-send"
        if await self._mark_unknown(message, claim, reason):
            return self._logged(Delivery.of(message, Outcome.UNKNOWN, reason=reason), message)
        latest = await self.sent_log.lookup(message)
        if latest is None:  # released meanwhile: look again later
            return Delivery.of(message, Outcome.IN_FLIGHT, reason="the claim changed while it was read")
        return self._classify(message, latest, max(self.clock() - latest.at, 0.0), report=False)

    def _classify(self, message: PlannedMessage, claim: Claim, age: float, *, report: bool) -> Delivery:
        """The delivery a claim `age` seconds old stands for, with nothing written: a stale one (which only
        an unreported look reaches) waits like a live one, for its lease to run out."""
        now_standing = standing(claim.state, age, self.lease_seconds)
        if now_standing in (Standing.SENT, Standing.DELIVERED, Standing.FAILED):  # it went out
            return Delivery.of(message, Outcome.DUPLICATE, provider_id=claim.provider_id)
        if now_standing in (Standing.UNKNOWN, Standing.EXPIRED):
            # An expired one (never sent, its window closed: the reconciler reported it) is not sent
            # either should a run plan it again (a rule's window widened): a person decides.
            return self._unknown_before(message, claim, age, report=report)
        # Look again once the lease has run out: by then the claim is confirmed or reportable.
        return Delivery.of(
            message,
            Outcome.IN_FLIGHT,
            reason=f"claimed by {claim.owner} {age:.0f} s ago",
            retry_after=max(self.lease_seconds - age, 0.0) + 1.0,  # at most the lease + 1 s
        )

    def _unknown_before(self, message: PlannedMessage, claim: Claim, age: float, *, report: bool) -> Delivery:
        if report and claim.report_pending:
            # Marked, but whoever marked it died before reporting it (a Lambda killed at its timeout):
            # reported now, until its reporter says it has (SentLog.reported).
            reason = f"claimed by {claim.owner} {age:.0f} s ago and marked unknown; never reported until now"
            return self._logged(Delivery.of(message, Outcome.UNKNOWN, reason=reason), message)
        return Delivery.of(message, Outcome.STILL_UNKNOWN)

    async def _mark_unknown(self, message: PlannedMessage, claim: Claim, reason: str) -> bool:
        """Whether this delivery is the one to report the claim unknown: its compare-and-set won, or its
        answer was lost. A lost mark may have been stored, and then nobody would ever report it; so it is
        reported here, at the risk of a second report if it was not stored and its lease runs out."""
        try:
            return await self.sent_log.mark_unknown(message, claim, reason)
        except SentLogError as err:
            log.error("sms outcome unknown; the sent log may not have its mark", extra={"error": str(err)})
            return True

    def _logged(self, delivery: Delivery, message: PlannedMessage) -> Delivery:
        if delivery.outcome is Outcome.DRY_RUN and not self.dry_run_line():
            return delivery
        fields = {**delivery.as_record(), "phone": mask_phone(message.phone), "kind": message.kind.value}
        text = "dry run: would send" if delivery.outcome is Outcome.DRY_RUN else f"sms {delivery.outcome}"
        log.log(logging.ERROR if delivery.outcome in FAILURES else logging.INFO, text, extra=fields)
        return delivery
