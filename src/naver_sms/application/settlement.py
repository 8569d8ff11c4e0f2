"""What the worker does with one event once its deliveries are known: ack, nak with a delay, or term,
and the records to publish. Pure: the handler only applies what this says.

Every delivery outcome leaves a record. Sent ones (and duplicates of sent ones, so the sent subject is
complete after any crash) go to the sent subject with `Nats-Msg-Id` = the idempotency key; failures and
unknown outcomes to the failed subject. Outcomes that may pass later (known-unsent failures, claims
another worker holds) nak the event with a delay until its last permitted delivery: then they are
recorded as failures too, so no event ends without a record. An unreadable event is dead-lettered and
terminated.

The worker's send ceiling (application/send_ceiling.py) never reaches this policy: a send over it waits
in the process, its event kept in progress, so it is never an outcome to try again and spends no delivery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from naver_sms.application.delivery import TRY_AGAIN, Delivery, Outcome
from naver_sms.application.errors import described, error_type
from naver_sms.application.ports import REASON_CHARS
from naver_sms.domain.frozen import quick_init
from naver_sms.domain.phone import mask_phones_in

# What the worker's summary calls each outcome.
TALLY = {
    Outcome.SENT: "sent",
    Outcome.DUPLICATE: "duplicates",
    Outcome.DRY_RUN: "dry_run",
    Outcome.RETRY: "retried",
    Outcome.IN_FLIGHT: "in_flight",
    Outcome.REFUSED: "failed",
    Outcome.INVALID: "failed",
    Outcome.UNKNOWN: "unknown",
    Outcome.STILL_UNKNOWN: "still_unknown",
}
RECORDED_AS_SENT = frozenset({Outcome.SENT, Outcome.DUPLICATE})
RECORDED_AS_UNKNOWN = frozenset({Outcome.UNKNOWN, Outcome.STILL_UNKNOWN})
REPORTED_BEFORE = "reported unknown before; recorded again, as that record may have been lost"
REFERENCE_HEAD_BYTES = 200
HEADROOM_BYTES = 512  # the protocol's own bytes around a message's headers and payload


class Action(StrEnum):
    ACK = "ack"
    NAK = "nak"  # redeliver after `delay`
    TERM = "term"  # never redeliver


@dataclass(frozen=True)
class Publication:
    subject: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True)
class Settlement:
    action: Action
    publications: tuple[Publication, ...] = ()
    delay: float | None = None


@dataclass(frozen=True)
class Original:
    """The event a dead letter is about: its bytes and where its stream keeps it."""

    data: bytes
    subject: str
    stream: str
    sequence: str

    def reference(self) -> dict[str, Any]:
        """Enough to find the original in its stream and to recognise it: no more than its first bytes."""
        return {
            "stream": self.stream,
            "sequence": self.sequence,
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "head": mask_phones_in(self.data[:REFERENCE_HEAD_BYTES].decode("utf-8", "replace")),
        }


def _record(subject: str, record: dict[str, Any], msg_id: str | None = None) -> Publication:
    return Publication(subject, json.dumps(record).encode(), {"Nats-Msg-Id": msg_id} if msg_id else {})


@dataclass(frozen=True)
class SettlementPolicy:
    sent_subject: str
    failed_subject: str
    dlq_subject: str
    nak_delay: float
    max_deliver: int | None  # the live consumer's (None: unlimited); its last delivery leaves a record
    max_payload: int  # the server's limit on one message, headers included

    def is_last(self, delivered: int) -> bool:
        """Whether the `delivered`-th delivery (this one included) is the last the consumer permits."""
        return self.max_deliver is not None and delivered >= self.max_deliver

    def settle(self, event_id: str, deliveries: Sequence[Delivery], delivered: int) -> Settlement:
        final = self.is_last(delivered)
        records = tuple(
            [p for d in deliveries if (p := self._publication(event_id, d, final=final)) is not None]
        )
        again = [d for d in deliveries if d.outcome in TRY_AGAIN]
        if not again or final:
            return Settlement(Action.ACK, records)
        before_last = self.is_last(delivered + 1)
        return Settlement(Action.NAK, records, max(self._retry_delay(d, before_last) for d in again))

    def after_failure(self, original: Original, err: Exception, delivered: int) -> Settlement:
        """Handling raised (the sent log or NATS failed): nak for another try, or on the last permitted
        delivery dead-letter the event, so it is never dropped without a trace."""
        if self.is_last(delivered):
            reason = f"handling failed on delivery {self.max_deliver}: {described(err)}"
            return Settlement(Action.TERM, (self.dead_letter(original, reason, err=err),))
        return Settlement(Action.NAK, delay=self.nak_delay)

    def after_dead_letter_failed(self, delivered: int) -> Settlement:
        """The dead letter could not be published: nak for another try, or on the last permitted delivery
        terminate anyway (the handler logs the event's reference), so no event is stuck."""
        if self.is_last(delivered):
            return Settlement(Action.TERM)
        return Settlement(Action.NAK, delay=self.nak_delay)

    def invalid(self, original: Original, err: Exception) -> Settlement:
        return Settlement(Action.TERM, (self.dead_letter(original, str(err), err=err),))

    def dead_letter(
        self, original: Original, reason: str, msg_id: str = "", err: Exception | None = None
    ) -> Publication:
        """The original payload when it fits the server's max_payload with its headers, else a reference.
        A letter an error caused names it (`error_type`, as results and logs do) for a DLQ consumer."""
        headers = {
            "Dead-Letter-Reason": mask_phones_in(reason)[:REASON_CHARS],
            **({"Dead-Letter-Error-Type": error_type(err)} if err is not None else {}),
            "Original-Subject": original.subject,
            "Original-Stream": original.stream,
            "Original-Sequence": original.sequence,
        }
        if msg_id:
            headers["Nats-Msg-Id"] = msg_id  # every replica hears the advisory; the stream keeps one copy
        header_bytes = sum(len(k) + len(v.encode()) + 4 for k, v in headers.items())
        payload = original.data
        if len(payload) + header_bytes + HEADROOM_BYTES > self.max_payload:
            headers["Dead-Letter-Payload"] = "reference"
            payload = json.dumps(original.reference()).encode()
        return Publication(self.dlq_subject, payload, headers)

    def _publication(self, event_id: str, delivery: Delivery, *, final: bool) -> Publication | None:
        if delivery.outcome is Outcome.DRY_RUN or (delivery.outcome in TRY_AGAIN and not final):
            return None  # a dry run records nothing; a redelivery will look again, only the last records
        record = {**delivery.as_record(), "event_id": event_id}
        if delivery.outcome in RECORDED_AS_SENT:
            return _record(self.sent_subject, record, delivery.idempotency_key)
        if delivery.outcome in RECORDED_AS_UNKNOWN:
            # Published again whenever a delivery finds the key unknown, as sent records are: a first
            # publish that was lost (a timeout after the mark was stored) leaves no other record. One
            # Nats-Msg-Id for the key's unknown record keeps one copy in the stream's window.
            record["outcome"] = Outcome.UNKNOWN.value
            record["reason"] = record.get("reason") or REPORTED_BEFORE
            return _record(self.failed_subject, record, f"{delivery.idempotency_key}.unknown")
        if delivery.outcome in TRY_AGAIN:
            record["reason"] = f"{record.get('reason', '')}; gave up after {self.max_deliver} deliveries"
        return _record(self.failed_subject, record)

    def _retry_delay(self, delivery: Delivery, before_last: bool) -> float:
        """A provider's Retry-After is a floor; a claim in flight is looked at again after the usual
        delay, or when its lease ends if that comes first (a replay usually finds it sent by then).
        The delivery before the last waits until the lease has ended whatever the delay: the last one
        then finds the claim confirmed, or stale and reports it unknown, never merely still in flight
        (a dead worker's claim would otherwise be given up unreported, whatever the lease and
        redelivery settings)."""
        if delivery.retry_after is None:
            return self.nak_delay
        if delivery.outcome is Outcome.IN_FLIGHT and not before_last:
            return min(self.nak_delay, delivery.retry_after)
        return max(self.nak_delay, delivery.retry_after)
