"""Deliver one planned message at most once, and say what happened: the semantics table in
docs/architecture.md, row by row.

Claim → send → confirm. Only a failure known to precede delivery releases the claim (a later try may
send); anything that may have reached the provider leaves the claim as UNKNOWN, reported and never resent
(reported once, or twice when the sent log lost the mark's answer and did not keep it: never silent). A
claim nobody confirmed within its lease (the process died) becomes UNKNOWN the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, cast

from naver_sms.application.errors import NotDelivered, OutcomeUnknown, Refused, SentLogError
from naver_sms.application.ports import (
    AsyncSentLog,
    AsyncSmsTransport,
    Claim,
    ClaimState,
    SentLog,
    SmsTransport,
)
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


@dataclass(frozen=True)
class Call:
    """One port call the delivery steps ask for; a driver makes it, synchronously or awaited. `slot`
    marks the span a driver that bounds sends at once holds a send slot for: taken before the claim,
    so the claim's lease never covers a wait for one, and given back once the send has answered."""

    port: Literal["transport", "sent_log"]
    method: str
    args: tuple[object, ...]
    slot: Literal["take", "give"] | None = None


Steps = Generator[Call, Any, Delivery]

# Stands for "the time now" in a Call's arguments: the driver reads its clock just before it makes the
# call, after any wait for a send slot, so a claim carries the time it is written.
CLOCK = object()


def _every_line() -> bool:
    return True


@dataclass(frozen=True, kw_only=True)  # the ports come first, positionally
class DeliveryPolicy:
    """The delivery steps, written once as a generator of port calls: the Lambda drives them with blocking
    ports (Deliverer), the worker with awaitable ones on its event loop (AsyncDeliverer). A port's
    exception is thrown back in at the step that made the call."""

    owner: str  # who claims: written into each claim so an operator can tell whose send it was
    lease_seconds: float  # longer than any one send can take, retries included (checked in settings)
    dry_run: bool
    # Whether this dry-run decision gets a line of its own. A worker decides as fast as events arrive, so
    # it passes a LineBudget's take; its outcome is the same either way.
    dry_run_line: Callable[[], bool] = _every_line
    # Wall-clock seconds for claims and their ages: when a claim is written or read, not the rules'
    # `now`, which stays one instant for a whole run (a claim 200 s into a run is not 200 s old).
    clock: Callable[[], float] = time.time

    def steps(self, message: PlannedMessage) -> Steps:
        if self.dry_run:
            found = yield Call("sent_log", "lookup", (message,))
            if found is not None:
                return (yield from self._existing(message, found, report=False))
            return self._logged(Delivery.of(message, Outcome.DRY_RUN), message)
        claim, created = yield Call("sent_log", "claim", (message, self.owner, CLOCK), slot="take")
        if not created:
            return (yield from self._existing(message, claim, report=True))
        return self._logged((yield from self._send(message, claim)), message)

    def _send(self, message: PlannedMessage, claim: Claim) -> Steps:
        try:
            provider_id = yield Call("transport", "send", (message,), slot="give")
        except NotDelivered as err:
            yield Call("sent_log", "release", (message, claim))
            return Delivery.of(message, Outcome.RETRY, reason=str(err), retry_after=err.retry_after)
        except Refused as err:
            yield Call("sent_log", "release", (message, claim))
            return Delivery.of(message, Outcome.REFUSED, reason=str(err))
        except OutcomeUnknown as err:
            yield from self._mark_unknown(message, claim, mask_phones_in(str(err)))
            return Delivery.of(message, Outcome.UNKNOWN, reason=str(err))
        except Exception as err:
            # A transport bug may strike before or after the request left: treat it as unknown.
            log.exception("sms transport failed unexpectedly")
            reason = f"unexpected {type(err).__name__} while sending"
            yield from self._mark_unknown(message, claim, reason)
            return Delivery.of(message, Outcome.UNKNOWN, reason=reason)
        try:
            yield Call("sent_log", "confirm", (message, provider_id))
        except SentLogError as err:
            # The SMS went out: say so. The claim stays, so it is never resent; once its lease ends it
            # is reported as unknown, which is the truth as far as the log can tell.
            log.error("sms sent but not confirmed in the sent log", extra={"error": str(err)})
        return Delivery.of(message, Outcome.SENT, provider_id=provider_id)

    def _args(self, call: Call) -> tuple[object, ...]:
        return tuple(self.clock() if arg is CLOCK else arg for arg in call.args)

    def _existing(self, message: PlannedMessage, claim: Claim, *, report: bool) -> Steps:
        if claim.state is ClaimState.SENT:
            return Delivery.of(message, Outcome.DUPLICATE, provider_id=claim.provider_id)
        if claim.state is ClaimState.UNKNOWN:
            return Delivery.of(message, Outcome.STILL_UNKNOWN)
        age = self.clock() - claim.at
        if age < self.lease_seconds or not report:
            # Look again once the lease has run out: by then the claim is confirmed or reportable.
            return Delivery.of(
                message,
                Outcome.IN_FLIGHT,
                reason=f"claimed by {claim.owner} {age:.0f} s ago",
                retry_after=max(self.lease_seconds - age, 0.0) + 1.0,
            )
        reason = f"claimed by {claim.owner} {age:.0f} s ago and never confirmed: the sender stopped mid-send"
        if (yield from self._mark_unknown(message, claim, reason)):
            return self._logged(Delivery.of(message, Outcome.UNKNOWN, reason=reason), message)
        # Someone changed the claim between our two reads: classify what it holds now, reporting nothing
        # (released meanwhile: look again later).
        latest = yield Call("sent_log", "lookup", (message,))
        if latest is None:
            return Delivery.of(message, Outcome.IN_FLIGHT, reason="the claim changed while it was read")
        return (yield from self._existing(message, latest, report=False))

    def _mark_unknown(self, message: PlannedMessage, claim: Claim, reason: str) -> Generator[Call, Any, bool]:
        """Whether this delivery is the one to report the claim unknown: its compare-and-set won, or its
        answer was lost. A lost mark may have been stored, and then nobody would ever report it; so it is
        reported here, at the risk of a second report if it was not stored and its lease runs out."""
        try:
            return bool((yield Call("sent_log", "mark_unknown", (message, claim, reason))))
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


def _advance(steps: Steps, reply: object, error: Exception | None) -> Call | Delivery:
    """The next call the steps ask for, or their Delivery once done. An exception the steps do not
    handle leaves here, as it would from a plain function."""
    try:
        return steps.throw(error) if error is not None else steps.send(reply)
    except StopIteration as done:
        return cast(Delivery, done.value)


@dataclass(frozen=True)
class Deliverer(DeliveryPolicy):
    transport: SmsTransport
    sent_log: SentLog

    def deliver(self, message: PlannedMessage) -> Delivery:
        steps = self.steps(message)
        step = _advance(steps, None, None)
        while isinstance(step, Call):
            try:
                reply = getattr(getattr(self, step.port), step.method)(*self._args(step))
            except Exception as err:  # noqa: BLE001  (thrown back into the steps, which decide)
                step = _advance(steps, None, err)
            else:
                step = _advance(steps, reply, None)
        return step


@dataclass(frozen=True)
class AsyncDeliverer(DeliveryPolicy):
    """Deliveries on an event loop, at most `send_slots` sending at once (the worker's concurrency).
    A slot covers the claim and the send; the confirm and the caller's record do not wait on it."""

    transport: AsyncSmsTransport
    sent_log: AsyncSentLog
    send_slots: asyncio.Semaphore

    async def deliver(self, message: PlannedMessage) -> Delivery:
        steps = self.steps(message)
        step = _advance(steps, None, None)
        holding = False
        try:
            while isinstance(step, Call):
                if step.slot == "take":
                    await self.send_slots.acquire()
                    holding = True
                reply, error = None, None
                try:
                    reply = await getattr(getattr(self, step.port), step.method)(*self._args(step))
                except Exception as err:  # noqa: BLE001  (thrown back into the steps, which decide)
                    error = err
                if step.slot == "give" and holding:
                    self.send_slots.release()
                    holding = False
                step = _advance(steps, reply, error)
        finally:
            if holding:  # no send followed the claim (it failed, or another sender holds it), or cancelled
                self.send_slots.release()
        return step
