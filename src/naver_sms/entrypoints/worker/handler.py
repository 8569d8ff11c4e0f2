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
import json
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from naver_sms.application.delivery import FAILURES, TRY_AGAIN, Delivery, Outcome
from naver_sms.application.notify import Notifier
from naver_sms.domain.errors import InvalidEvent
from naver_sms.domain.events import BookingEvent, event_from_mapping
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


def decode_event(data: bytes) -> BookingEvent:
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidEvent(f"not JSON: {err}") from err
    return event_from_mapping(payload)


@dataclass
class EventHandler:
    js: JetStreamContext
    settings: WorkerSettings
    notifier: Notifier
    executor: Executor
    clock: Callable[[], datetime]
    max_deliver: int | None  # the live consumer's (None: unlimited); its last delivery leaves a record
    tally: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, int]:
        return {name: self.tally[name] for name in sorted({*_TALLY.values(), "processed", "dead_lettered"})}

    async def handle(self, msg: Msg) -> None:
        with bound(message_id=_msg_id(msg)):
            try:
                event = decode_event(msg.data)
            except InvalidEvent as err:
                await self._dead_letter(msg, str(err))
                return
            with bound(event_id=event.event_id, booking_id=event.booking.booking_id):
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
        notify = partial(self.notifier.notify, event.booking, self.clock(), event.type)
        if self.notifier.dry_run:
            # Nothing to wait for in a dry run: stay on the event loop, no thread hop per event.
            return notify()
        keep_alive = asyncio.create_task(self._keep_alive(msg))
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, notify)
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
        delay = max([self.settings.nak_delay_seconds, *(d.retry_after or 0 for d in again)])
        log.warning(
            "event will be retried", extra={"delay_seconds": delay, "outcomes": [d.outcome for d in again]}
        )
        await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        headers = {"Dead-Letter-Reason": reason[:500], "Original-Subject": msg.subject}
        await self.js.publish(self.settings.dlq_subject, msg.data, headers=headers)
        self.tally["dead_lettered"] += 1
        log.warning("malformed event sent to the DLQ", extra={"reason": reason})
        await msg.term()

    async def _publish(self, subject: str, record: dict[str, Any], msg_id: str | None = None) -> None:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await self.js.publish(subject, json.dumps(record).encode(), headers=headers)


def _deliveries(msg: Msg) -> int:
    """How many times JetStream has delivered this message, this time included."""
    try:
        return int(msg.metadata.num_delivered)
    except Exception:  # noqa: BLE001  (without metadata it is a first delivery)
        return 1


def _msg_id(msg: Msg) -> str:
    try:
        return f"{msg.metadata.stream}:{msg.metadata.sequence.stream}"
    except Exception:  # noqa: BLE001  (a message without JetStream metadata still gets handled)
        return "unknown"
