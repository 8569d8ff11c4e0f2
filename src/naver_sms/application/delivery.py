"""Send planned messages at most once each, through any transport and sent log."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from naver_sms.application.errors import DeliveryError
from naver_sms.application.ports import SentLog, SmsTransport
from naver_sms.domain.messages import PlannedMessage

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SENT = "sent"
    DRY_RUN = "dry_run"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Delivered:
    outcome: Outcome
    provider_id: str = ""


def log_dry_run(message: PlannedMessage) -> Delivered:
    """What a dry run does instead of sending: one log line naming the message."""
    log.info(
        "dry run: would send",
        extra={
            "rule": message.rule,
            "booking_id": message.booking_id,
            "idempotency_key": message.idempotency_key,
        },
    )
    return Delivered(Outcome.DRY_RUN)


def deliver(
    message: PlannedMessage, transport: SmsTransport, sent_log: SentLog, *, dry_run: bool
) -> Delivered:
    """Claim, send, confirm. A failed send releases its claim; a claimed key is never resent.

    Dry runs only read the log: recording them would block the real send later.
    """
    if dry_run:
        if sent_log.contains(message):
            return Delivered(Outcome.DUPLICATE)
        return log_dry_run(message)
    if not sent_log.claim(message):
        return Delivered(Outcome.DUPLICATE)
    try:
        provider_id = transport.send(message)
    except DeliveryError:
        sent_log.release(message)
        raise
    sent_log.confirm(message, provider_id)
    log.info(
        "sms sent",
        extra={
            "rule": message.rule,
            "booking_id": message.booking_id,
            "idempotency_key": message.idempotency_key,
            "provider_id": provider_id,
        },
    )
    return Delivered(Outcome.SENT, provider_id)
