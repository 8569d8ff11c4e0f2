"""One JetStream message in, ack / nak / term out; the work itself is the shared Notifier.

Malformed messages go to the DLQ and are terminated. Every delivery outcome is recorded: sent ones
(and duplicates of sent ones, so the subject is complete after any crash) on the sent subject with
`Nats-Msg-Id` = the idempotency key, failures and unknown outcomes on the failed subject. Outcomes that
may pass later (known-unsent failures, claims another worker holds) nak the event with a delay, until
its last permitted delivery: then they are recorded as failures too, so no event ends without a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nats.js.errors
import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from naver_sms.application.delivery import FAILURES, TRY_AGAIN, Delivery, Outcome
from naver_sms.application.notify import AsyncNotifier
from naver_sms.domain.errors import InvalidEvent
from naver_sms.domain.events import BookingEvent, event_from_mapping
from naver_sms.domain.phone import mask_phones_in
from naver_sms.logging_setup import bound
from naver_sms.settings.model import WorkerSettings

log = logging.getLogger("naver_sms.worker")

# What the worker's summary calls each outcome.
_TALLY = {
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
_RECORDED_AS_SENT = frozenset({Outcome.SENT, Outcome.DUPLICATE})
_RECORDED_AS_UNKNOWN = frozenset({Outcome.UNKNOWN, Outcome.STILL_UNKNOWN})
_REPORTED_BEFORE = "reported unknown before; recorded again, as that record may have been lost"


MAX_EVENT_DEPTH = 32  # a booking event is three levels deep; anything far deeper is hostile
DLQ_REASON_CHARS = 500
REFERENCE_HEAD_BYTES = 200
HEADROOM_BYTES = 512  # the protocol's own bytes around a message's headers and payload


def decode_event(data: bytes, max_bytes: int) -> BookingEvent:
    """Every way a payload can be unreadable is an InvalidEvent, so it is dead-lettered at once."""
    if len(data) > max_bytes:
        raise InvalidEvent(
            f"the event is {len(data)} bytes; the limit is {max_bytes} (WORKER_MAX_EVENT_BYTES)"
        )
    try:
        # orjson: strict RFC 8259 UTF-8 JSON (no NaN, no UTF-16), with a depth limit instead of a
        # RecursionError, and a quarter of the json module's time per event.
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise InvalidEvent(f"not JSON: {err}") from err
    # Each level needs an opening bracket: with few of them, the walk cannot find too many levels.
    brackets = data.count(b"[") + data.count(b"{")
    if brackets > MAX_EVENT_DEPTH and _depth(payload) > MAX_EVENT_DEPTH:
        raise InvalidEvent(f"the event is nested deeper than {MAX_EVENT_DEPTH} levels")
    try:
        return event_from_mapping(payload)
    except InvalidEvent:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise InvalidEvent(f"event: unreadable value: {type(err).__name__}: {err}") from err


def _depth(value: object) -> int:
    """Nesting depth without recursion: a hostile payload cannot blow the stack here."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_EVENT_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


@dataclass
class EventHandler:
    js: JetStreamContext
    settings: WorkerSettings
    notifier: AsyncNotifier
    clock: Callable[[], datetime]
    max_deliver: int | None  # the live consumer's (None: unlimited); its last delivery leaves a record
    max_payload: int  # the server's limit on one message, headers included
    tally: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, int]:
        return {name: self.tally[name] for name in sorted({*_TALLY.values(), "processed", "dead_lettered"})}

    async def handle(self, msg: Msg) -> None:
        try:
            event = decode_event(msg.data, self.settings.max_event_bytes)
        except InvalidEvent as err:
            with bound(message_id=_msg_id(msg)):
                await self._dead_letter(msg, str(err))
            return
        with bound(message_id=_msg_id(msg), event_id=event.event_id, booking_id=event.booking.booking_id):
            deliveries = await self._notify(msg, event)
            final = self._last_delivery(msg)
            await self._record(event, deliveries, final=final)
            await self._settle(msg, deliveries, final=final)

    async def handle_failure(self, msg: Msg, err: Exception) -> None:
        """`handle` raised (the sent log or NATS failed): nak for another try, or on the last permitted
        delivery dead-letter the event, so it is never dropped without a trace."""
        if self._last_delivery(msg):
            await self._dead_letter(msg, f"handling failed on delivery {self.max_deliver}: {err}")
            return
        log.warning("handling failed; the event will be redelivered", extra={"error": f"{err}"})
        await msg.nak(delay=self.settings.nak_delay_seconds)

    async def _notify(self, msg: Msg, event: BookingEvent) -> list[Delivery]:
        notifying = self.notifier.notify(event.booking, self.clock(), event.type)
        if self.notifier.dry_run:
            return await notifying  # nothing in a dry run waits on the network
        keep_alive = asyncio.create_task(self._keep_alive(msg))
        try:
            return await notifying
        finally:
            keep_alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keep_alive

    def _last_delivery(self, msg: Msg) -> bool:
        return self.max_deliver is not None and _deliveries(msg) >= self.max_deliver

    async def _keep_alive(self, msg: Msg) -> None:
        """Sends may take a while: keep JetStream from redelivering the event to another worker meanwhile.
        A lost connection only costs an early redelivery, which the sent log answers."""
        while True:
            with contextlib.suppress(Exception):
                await msg.in_progress()
            await asyncio.sleep(self.settings.ack_wait_seconds / 3)

    async def _record(self, event: BookingEvent, deliveries: list[Delivery], *, final: bool) -> None:
        for delivery in deliveries:
            self.tally[_TALLY[delivery.outcome]] += 1
            record = {**delivery.as_record(), "event_id": event.event_id}
            if delivery.outcome in _RECORDED_AS_SENT:
                await self._publish(self.settings.sent_subject, record, msg_id=delivery.idempotency_key)
            elif delivery.outcome in _RECORDED_AS_UNKNOWN:
                # Published again whenever a delivery finds the key unknown, as sent records are: a first
                # publish that was lost (a timeout after the mark was stored) leaves no other record.
                # One Nats-Msg-Id for the key's unknown record keeps one copy in the stream's window.
                record["outcome"] = Outcome.UNKNOWN.value
                record["reason"] = delivery.reason or _REPORTED_BEFORE
                await self._publish(
                    self.settings.failed_subject, record, msg_id=f"{delivery.idempotency_key}.unknown"
                )
            elif delivery.outcome in TRY_AGAIN:
                # A redelivery will look again; only the last one has to leave a record.
                if final:
                    record["reason"] = f"{delivery.reason}; gave up after {self.max_deliver} deliveries"
                    await self._publish(self.settings.failed_subject, record)
            elif delivery.outcome in FAILURES:
                await self._publish(self.settings.failed_subject, record)

    async def _settle(self, msg: Msg, deliveries: list[Delivery], *, final: bool) -> None:
        again = [d for d in deliveries if d.outcome in TRY_AGAIN]
        if not again or final:
            self.tally["processed"] += 1
            await msg.ack()
            return
        delay = max(self._retry_delay(d) for d in again)
        log.warning(
            "event will be retried", extra={"delay_seconds": delay, "outcomes": [d.outcome for d in again]}
        )
        await msg.nak(delay=delay)

    def _retry_delay(self, delivery: Delivery) -> float:
        """A provider's Retry-After is a floor; a claim in flight is looked at again after the usual
        delay, or when its lease ends if that comes first (a replay usually finds it sent by then)."""
        nak = self.settings.nak_delay_seconds
        if delivery.retry_after is None:
            return nak
        if delivery.outcome is Outcome.IN_FLIGHT:
            return min(nak, delivery.retry_after)
        return max(nak, delivery.retry_after)

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        """Copy the event to the DLQ and terminate it. A DLQ that cannot be written naks the event for
        later; on its last delivery it is terminated anyway, with the reference in the log, so no message
        is stuck and none vanishes unrecorded."""
        try:
            await self._publish_dead_letter(_original(msg), reason)
        except Exception as err:  # noqa: BLE001  (any publish failure: retry later or record in the log)
            if not self._last_delivery(msg):
                log.warning(
                    "dead-letter publish failed; the event will be redelivered", extra={"error": str(err)}
                )
                await msg.nak(delay=self.settings.nak_delay_seconds)
                return
            log.error(
                "dead-letter publish failed on the last delivery; event terminated",
                extra={"reason": reason, "error": str(err), "event": _original(msg).reference()},
            )
        await msg.term()

    async def dead_letter_exhausted(self, advisory: bytes) -> None:
        """JetStream's max-deliveries advisory: an event whose last delivery ended without an ack (its
        worker died on it) is copied to the DLQ from the stream, so it too ends visibly."""
        notice = json.loads(advisory)
        stream, sequence = str(notice["stream"]), int(notice["stream_seq"])
        try:
            stored = await self.js.get_msg(stream, sequence)
            original = Original(stored.data or b"", stored.subject or "", stream, str(sequence))
        except nats.js.errors.NotFoundError:
            original = Original(b"", "", stream, str(sequence))  # removed by the stream's limits meanwhile
        reason = f"max deliveries ({notice.get('deliveries')}) reached without an ack"
        await self._publish_dead_letter(original, reason, msg_id=f"max-deliveries:{stream}:{sequence}")

    async def _publish_dead_letter(self, original: Original, reason: str, msg_id: str = "") -> None:
        """The original payload when it fits the server's max_payload with its headers, else a reference."""
        headers = {
            "Dead-Letter-Reason": mask_phones_in(reason)[:DLQ_REASON_CHARS],
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
        await self.js.publish(self.settings.dlq_subject, payload, headers=headers)
        self.tally["dead_lettered"] += 1
        log.warning("event sent to the DLQ", extra={"reason": reason, "size": len(original.data)})

    async def _publish(self, subject: str, record: dict[str, Any], msg_id: str | None = None) -> None:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await self.js.publish(subject, json.dumps(record).encode(), headers=headers)


@dataclass(frozen=True)
class Original:
    """The event a dead letter is about."""

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


def _original(msg: Msg) -> Original:
    try:
        stream, sequence = str(msg.metadata.stream), str(msg.metadata.sequence.stream)
    except Exception:  # noqa: BLE001  (a message without JetStream metadata)
        stream, sequence = "", ""
    return Original(msg.data, msg.subject, stream, sequence)


def _deliveries(msg: Msg) -> int:
    """How many times JetStream has delivered this message, this time included."""
    try:
        return int(msg.metadata.num_delivered)
    except Exception:  # noqa: BLE001  (without metadata it is a first delivery)
        return 1


def _msg_id(msg: Msg) -> str:
    original = _original(msg)  # a message without JetStream metadata still gets handled
    return f"{original.stream}:{original.sequence}" if original.stream else "unknown"
