"""Planned messages: what a rule decided to send, sized for SENS, with a key that makes sending idempotent.

Sizing (SENS v2 counts EUC-KR bytes): up to 90 bytes is an SMS, up to 2,000 an LMS, longer is refused
rather than cut. A character EUC-KR cannot encode (an emoji, most accented Latin) makes the message an
LMS, and counts as its UTF-8 length, so the size never under-estimates what the carrier receives.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from naver_sms.domain.errors import InvalidBooking, InvalidMessage
from naver_sms.domain.frozen import quick_init
from naver_sms.domain.phone import normalise_phone

SMS_MAX_BYTES = 90
LMS_MAX_BYTES = 2000


class MessageKind(StrEnum):
    SMS = "SMS"
    LMS = "LMS"


class SentBy(StrEnum):
    """The path a rule's messages are sent by (domain.rules.Rule.sent_by)."""

    SCHEDULED = "scheduled"  # the Lambda's scheduled run, over every booking it reads: it replans them
    EVENTS = "events"  # the worker, for the booking events the rule lists: an event is settled once


@quick_init
@dataclass(frozen=True)
class PlannedMessage:
    rule: str
    booking_id: str
    phone: str
    text: str
    idempotency_key: str
    kind: MessageKind = MessageKind.SMS
    # The instant its rule stops sending it (the end of the rule's send window for this booking): a send
    # found never to have reached SENS may be sent again only before it. None: not known (a message read
    # back from the sent log, or built outside a rule), so never sent again automatically.
    send_until: datetime | None = None
    # The rule's path: only a message the scheduled run replans may be released to be sent again. None:
    # not known (read back from the sent log, or built outside a rule).
    sent_by: SentBy | None = None


def encoded_size(text: str) -> tuple[int, bool]:
    """(bytes, every character encodable in EUC-KR)."""
    try:
        return len(text.encode("euc-kr")), True  # the common case, in one C call
    except UnicodeEncodeError:
        pass
    size, encodable = 0, True
    for char in text:
        try:
            size += len(char.encode("euc-kr"))
        except UnicodeEncodeError:
            size += len(char.encode("utf-8"))
            encodable = False
    return size, encodable


def message_kind(rule: str, text: str) -> MessageKind:
    size, encodable = encoded_size(text)
    if size > LMS_MAX_BYTES:
        raise InvalidMessage(
            f"rule {rule!r}: the message is {size} bytes; an LMS holds at most {LMS_MAX_BYTES}"
        )
    return MessageKind.SMS if encodable and size <= SMS_MAX_BYTES else MessageKind.LMS


def idempotency_key(rule: str, booking_id: str, occasion: str = "") -> str:
    """Stable across runs and processes; hex so it is a valid DynamoDB, NATS KV and header value."""
    material = "\x1f".join((rule, booking_id, occasion)).encode()
    return hashlib.sha256(material).hexdigest()[:40]


def _comparable_text(text: str) -> str:
    # SENS may hand the text back with \r\n for our \n, or in another Unicode normal form.
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def fingerprint(key: str, phone: str, text: str) -> str:
    """What the sent log keeps in place of the phone and text (records are listed to operators): enough
    to recognise the send in SENS's list, where recipient and text come back, never enough to read them
    off the record. The key salts it, so two records of one phone and text do not share it. Raises
    InvalidBooking for a phone that is not a Korean mobile number."""
    material = "\x1f".join((key, normalise_phone(phone), _comparable_text(text)))
    return hashlib.sha256(material.encode()).hexdigest()


def listed_fingerprint(key: str, to: str, content: str) -> str | None:
    """The fingerprint a message SENS lists would have under `key`; None when its recipient is no Korean
    mobile number (so never one of ours) or its recipient or text cannot be encoded (a lone surrogate:
    it cannot be told apart). `to` in any form normalise_phone reads (+82, hyphens)."""
    try:
        return fingerprint(key, to, content)
    except (InvalidBooking, UnicodeError):
        return None


def recipient_fingerprint(key: str, phone: str) -> str:
    """The phone alone, salted with the key as `fingerprint` is (and tagged, so it is never a text's
    fingerprint): what tells a listed message to the same number with other text, which the reconciler
    never takes for "never accepted". Raises InvalidBooking as `fingerprint` does."""
    material = "\x1f".join((key, "recipient", normalise_phone(phone)))
    return hashlib.sha256(material.encode()).hexdigest()


def listed_recipient(key: str, to: str) -> str | None:
    """recipient_fingerprint of a listed message's `to`; None when it is no Korean mobile number."""
    try:
        return recipient_fingerprint(key, to)
    except (InvalidBooking, UnicodeError):
        return None
