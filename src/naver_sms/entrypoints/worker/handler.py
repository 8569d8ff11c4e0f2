"""One JetStream message: validate, evaluate rules, deliver each SMS once, record, then ack.

Malformed messages go to the DLQ and are terminated; SMS failures that may pass later are nak'ed
with a delay (never dropped); every outcome is published so nothing happens silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from naver_sms.application.delivery import Outcome, deliver, log_dry_run
from naver_sms.application.errors import DeliveryError
from naver_sms.application.ports import SentLog, SmsTransport
from naver_sms.domain.errors import InvalidEvent
from naver_sms.domain.events import BookingEvent, event_from_mapping
from naver_sms.domain.messages import PlannedMessage
from naver_sms.domain.rules import RuleSet
from naver_sms.logging_setup import bound
from naver_sms.settings.model import WorkerSettings

log = logging.getLogger("naver_sms.worker")


@dataclass
class Tally:
    processed: int = 0
    sent: int = 0
    duplicates: int = 0
    dry_run: int = 0
    dead_lettered: int = 0
    retried: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


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
    rules: RuleSet
    transport: SmsTransport
    sent_log: SentLog
    dry_run: bool
    executor: Executor
    clock: Callable[[], datetime]
    tally: Tally = field(default_factory=Tally)

    async def handle(self, msg: Msg) -> None:
        with bound(message_id=_msg_id(msg)):
            try:
                event = decode_event(msg.data)
            except InvalidEvent as err:
                await self._dead_letter(msg, str(err))
                return
            with bound(event_id=event.event_id, booking_id=event.booking.booking_id):
                await self._deliver_all(msg, event)

    async def _deliver_all(self, msg: Msg, event: BookingEvent) -> None:
        loop = asyncio.get_running_loop()
        for message in self.rules.evaluate(event.booking, self.clock(), event.type):
            if self.dry_run:
                # A dry-run worker never writes the dedupe store, so reading it would tell nothing:
                # stay on the event loop, no thread hop and no round trip per message.
                self._count(log_dry_run(message).outcome)
                continue
            # A send may retry for a while: keep JetStream from redelivering the event meanwhile.
            await msg.in_progress()
            try:
                result = await loop.run_in_executor(
                    self.executor,
                    partial(deliver, message, self.transport, self.sent_log, dry_run=self.dry_run),
                )
            except DeliveryError as err:
                await self._delivery_failed(msg, message, err)
                return
            self._count(result.outcome)
            if result.outcome is Outcome.SENT:
                await self._publish(
                    self.settings.sent_subject,
                    _record(event, message, provider_id=result.provider_id),
                    msg_id=message.idempotency_key,
                )
        self.tally.processed += 1
        await msg.ack()

    def _count(self, outcome: Outcome) -> None:
        name = {Outcome.SENT: "sent", Outcome.DUPLICATE: "duplicates", Outcome.DRY_RUN: "dry_run"}[outcome]
        setattr(self.tally, name, getattr(self.tally, name) + 1)

    async def _delivery_failed(self, msg: Msg, message: PlannedMessage, err: DeliveryError) -> None:
        record = {
            "idempotency_key": message.idempotency_key,
            "rule": message.rule,
            "booking_id": message.booking_id,
            "error": str(err),
            "retryable": err.retryable,
        }
        await self._publish(self.settings.failed_subject, record)
        if err.retryable:
            self.tally.retried += 1
            log.warning("sms delivery failed; will retry", extra={"error": str(err)})
            await msg.nak(delay=self.settings.nak_delay_seconds)
        else:
            self.tally.failed += 1
            log.error("sms refused; recorded on the failed subject", extra={"error": str(err)})
            await msg.ack()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        headers = {"Dead-Letter-Reason": reason[:500], "Original-Subject": msg.subject}
        await self.js.publish(self.settings.dlq_subject, msg.data, headers=headers)
        self.tally.dead_lettered += 1
        log.warning("malformed event sent to the DLQ", extra={"reason": reason})
        await msg.term()

    async def _publish(self, subject: str, record: dict[str, Any], msg_id: str | None = None) -> None:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await self.js.publish(subject, json.dumps(record).encode(), headers=headers)


def _record(event: BookingEvent, message: PlannedMessage, *, provider_id: str) -> dict[str, Any]:
    return {
        "idempotency_key": message.idempotency_key,
        "event_id": event.event_id,
        "rule": message.rule,
        "booking_id": message.booking_id,
        "provider_id": provider_id,
    }


def _msg_id(msg: Msg) -> str:
    try:
        return f"{msg.metadata.stream}:{msg.metadata.sequence.stream}"
    except Exception:  # noqa: BLE001  (a message without JetStream metadata still gets handled)
        return "unknown"
