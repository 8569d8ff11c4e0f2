"""One JetStream message in: decode it, run the shared Notifier, apply the SettlementPolicy's answer
(publish its records, then ack, nak or term). What to do is the policy's; this module only does it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from naver_sms.adapters.prometheus_metrics import DEAD_LETTERED, WorkerMetrics
from naver_sms.application.delivery import TRY_AGAIN, Delivery, Outcome
from naver_sms.application.errors import SentLogError, error_message, error_type
from naver_sms.application.notify import Notifier
from naver_sms.application.settlement import TALLY, Action, Original, Settlement, SettlementPolicy
from naver_sms.domain.errors import InvalidEvent
from naver_sms.domain.events import BookingEvent
from naver_sms.entrypoints.worker.decode import decode_event
from naver_sms.logging_setup import bound

log = logging.getLogger("naver_sms.worker")


@dataclass
class EventHandler:
    js: JetStreamContext
    notifier: Notifier
    policy: SettlementPolicy
    clock: Callable[[], datetime]
    max_event_bytes: int
    keep_alive_seconds: float  # a third of ack_wait: in-progress acks while an event's sends take long
    metrics: WorkerMetrics
    tally: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, int]:
        return {name: self.tally[name] for name in sorted({*TALLY.values(), "processed", DEAD_LETTERED})}

    async def handle(self, msg: Msg) -> None:
        stream, sequence, delivered = _jetstream(msg)  # read once: the message's place and deliveries
        try:
            event = decode_event(msg.data, self.max_event_bytes)
        except InvalidEvent as err:
            with bound(message_id=_msg_id(stream, sequence)):
                original = Original(msg.data, msg.subject, stream, sequence)
                await self._dead_letter(msg, self.policy.invalid(original, err))
            return
        with bound(
            message_id=_msg_id(stream, sequence), event_id=event.event_id, booking_id=event.booking.booking_id
        ):
            deliveries = await self._notify(msg, event)
            unknown = False
            for delivery in deliveries:
                self.tally[TALLY[delivery.outcome]] += 1
                self.metrics.outcome(delivery.outcome)
                unknown = unknown or delivery.outcome is Outcome.UNKNOWN
            settlement = self.policy.settle(event.event_id, deliveries, delivered)
            if settlement.publications:  # none for a dry run's would-sends: no call to make
                await self._publish(settlement)
            if unknown:
                await self._reported(deliveries)
            if settlement.action is Action.NAK:
                log.warning(
                    "event will be retried",
                    extra={"delay_seconds": settlement.delay, "outcomes": _again(deliveries)},
                )
                await msg.nak(delay=settlement.delay)
                return
            self.tally["processed"] += 1
            await msg.ack()

    async def _reported(self, deliveries: list[Delivery]) -> None:
        """Their records are out: nobody need report these unknowns again. A sent log that fails to take
        the note (a KV timeout) fails nothing: the event is handled, and at worst its unknown is reported
        once more by a redelivery or a replay (it keeps its Nats-Msg-Id, so the stream keeps one copy)."""
        for delivery in deliveries:
            if delivery.outcome is not Outcome.UNKNOWN:
                continue
            try:
                await self.notifier.deliverer.sent_log.reported(delivery.idempotency_key)
            except SentLogError as err:
                log.warning(
                    "unknown outcome recorded, but the sent log did not note it reported; it may be "
                    "reported again",
                    extra={"idempotency_key": delivery.idempotency_key, "error": str(err)},
                )

    async def handle_failure(self, msg: Msg, err: Exception) -> None:
        """`handle` raised (the sent log or NATS failed): what the policy says, never a silent drop."""
        settlement = self.policy.after_failure(_original(msg), err, _deliveries(msg))
        if settlement.action is Action.TERM:
            await self._dead_letter(msg, settlement)
            return
        log.warning(
            "handling failed; the event will be redelivered",
            extra={"error_type": error_type(err), "error": error_message(err)},
        )
        await msg.nak(delay=settlement.delay)

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
        letter = self.policy.dead_letter(original, reason, msg_id=f"max-deliveries:{stream}:{sequence}")
        await self._publish(Settlement(Action.TERM, (letter,)))

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

    async def _keep_alive(self, msg: Msg) -> None:
        """Sends may take a while: keep JetStream from redelivering the event to another worker meanwhile.
        A lost connection only costs an early redelivery, which the sent log answers."""
        while True:
            with contextlib.suppress(Exception):
                await msg.in_progress()
            await asyncio.sleep(self.keep_alive_seconds)

    async def _dead_letter(self, msg: Msg, settlement: Settlement) -> None:
        """Publish the dead letter and terminate the event. A DLQ that cannot be written naks the event for
        later; on its last delivery it is terminated anyway, with the reference in the log, so no message
        is stuck and none vanishes unrecorded."""
        try:
            await self._publish(settlement)
        except Exception as err:  # noqa: BLE001  (any publish failure: retry later or record in the log)
            then = self.policy.after_dead_letter_failed(_deliveries(msg))
            if then.action is Action.NAK:
                log.warning(
                    "dead-letter publish failed; the event will be redelivered", extra={"error": str(err)}
                )
                await msg.nak(delay=then.delay)
                return
            log.error(
                "dead-letter publish failed on the last delivery; event terminated",
                extra={
                    "reason": settlement.publications[0].headers.get("Dead-Letter-Reason", ""),
                    "error": str(err),
                    "event": _original(msg).reference(),
                },
            )
        await msg.term()

    async def _publish(self, settlement: Settlement) -> None:
        for publication in settlement.publications:
            headers = dict(publication.headers) or None
            await self.js.publish(publication.subject, publication.payload, headers=headers)
            if publication.subject == self.policy.dlq_subject:
                self.tally[DEAD_LETTERED] += 1
                self.metrics.outcome(DEAD_LETTERED)
                log.warning(
                    "event sent to the DLQ",
                    extra={"reason": publication.headers.get("Dead-Letter-Reason", "")},
                )


def _again(deliveries: list[Delivery]) -> list[str]:
    return [d.outcome.value for d in deliveries if d.outcome in TRY_AGAIN]


def _jetstream(msg: Msg) -> tuple[str, str, int]:
    """(stream, stream sequence, deliveries so far, this one included) from the message's ack subject,
    the tokens nats-py's `Msg.metadata` reads (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.
    <consumer seq>.<time>.<pending>`, or with `<domain>.<account hash>.` before the stream), without the
    rest it builds (a datetime, two dataclasses), which cost more than the rest of an event's bookkeeping.
    A message without JetStream metadata, or with a token nats-py could not read (every number, and the
    timestamp within datetime's range), is a first delivery that no stream position names."""
    tokens = (msg.reply or "").split(".")
    count = len(tokens)
    if tokens[0] != "$JS" or count < 9 or count == 10 or tokens[1] != "ACK":
        return "", "", 1
    at = 2 if count == 9 else 4
    try:
        delivered, sequence, _, nanoseconds, _ = map(int, tokens[at + 2 : at + 7])
        if not _EARLIEST_SECONDS <= nanoseconds / 1e9 <= _LATEST_SECONDS:
            return "", "", 1
    except (ValueError, OverflowError):
        return "", "", 1
    return tokens[at], str(sequence), delivered


# datetime's range, which nats-py's reading of the timestamp (datetime.fromtimestamp) holds it to.
_EARLIEST_SECONDS = datetime.min.replace(tzinfo=UTC).timestamp()
_LATEST_SECONDS = datetime.max.replace(tzinfo=UTC).timestamp()


def _original(msg: Msg) -> Original:
    stream, sequence, _ = _jetstream(msg)
    return Original(msg.data, msg.subject, stream, sequence)


def _deliveries(msg: Msg) -> int:
    """How many times JetStream has delivered this message, this time included."""
    return _jetstream(msg)[2]


def _msg_id(stream: str, sequence: str) -> str:
    return f"{stream}:{sequence}" if stream else "unknown"  # one without JetStream metadata is handled too
