"""Planned messages: what a rule decided to send, with a key that makes sending idempotent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedMessage:
    rule: str
    booking_id: str
    phone: str
    text: str
    idempotency_key: str


def idempotency_key(rule: str, booking_id: str, occasion: str = "") -> str:
    """Stable across runs and processes; hex so it is a valid DynamoDB, NATS KV and header value."""
    material = "\x1f".join((rule, booking_id, occasion)).encode()
    return hashlib.sha256(material).hexdigest()[:40]
