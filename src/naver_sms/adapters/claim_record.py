"""The claim record: what one idempotency key's record holds, written and read the same way by every
store. No phone number and no text, ever: operators list these records."""

from __future__ import annotations

from collections.abc import Mapping

from naver_sms.adapters.record_store import Fields
from naver_sms.application.ports import REASON_CHARS, Claim, ClaimState
from naver_sms.domain.errors import InvalidBooking
from naver_sms.domain.messages import PlannedMessage, fingerprint, recipient_fingerprint

KEY = "idempotency_key"  # what a listed record calls its key
REPORT, PENDING = "report", "pending"  # an unknown's report: pending until a run or worker has made it
# On every record that still needs a look, so a store with a sparse index on it (the Lambda's table) can
# list them without reading the rest. Its value says whose look: SWEEP, a claim not yet settled or an
# unknown not yet reported (the scheduled run's sweep); RECONCILE, an unknown to look up in SENS;
# HANDSET, a send whose handset result SENS has not been asked for yet (both the reconciler's).
OPEN = "open"
SWEEP, RECONCILE, HANDSET = "1", "unknown", "handset"
# A send whose handset result will not be waited for any more carries this field (and no OPEN).
HANDSET_GIVEN_UP = "handset_wait"


def opened(fields: Fields) -> Fields:
    """`fields` with the OPEN its state calls for, or none."""
    state, shut = fields.get("state"), {name: v for name, v in fields.items() if name != OPEN}
    if state == ClaimState.CLAIMED.value or fields.get(REPORT) == PENDING:
        return {**shut, OPEN: SWEEP}
    if state == ClaimState.UNKNOWN.value:
        return {**shut, OPEN: RECONCILE}
    if state == ClaimState.SENT.value and HANDSET_GIVEN_UP not in fields:
        return {**shut, OPEN: HANDSET}
    return shut


def identity(message: PlannedMessage) -> Fields:
    """What lets a reconciler find the send in SENS's list, the phone and text themselves never stored:
    nothing for a message with no phone (read back from a listing) or one no fingerprint can be made of.
    Written only by a write that sends (or may send) this very message: a claim, a take-over, a
    confirmation. A later write on an existing claim keeps the claim's own (`carried`): the message a
    later run plans under the same key may differ (a corrected name, a new template, a changed phone)
    from what was sent under it."""
    if not message.phone:
        return {}
    key = message.idempotency_key
    try:
        fields: Fields = {
            "fingerprint": fingerprint(key, message.phone, message.text),
            "recipient_fingerprint": recipient_fingerprint(key, message.phone),
        }
    except (InvalidBooking, UnicodeError):
        return {}
    if message.send_until is not None:
        fields["until"] = message.send_until.timestamp()
    if message.sent_by is not None:
        fields["sent_by"] = message.sent_by.value
    return fields


CARRIED = ("fingerprint", "recipient_fingerprint", "message_id", "sent_by")


def carried(claim: Claim) -> Fields:
    """The claim's own identity (and SENS's message id), for a write on it that sends nothing."""
    fields: Fields = {name: getattr(claim, name) for name in CARRIED}
    if claim.until is not None:
        fields["until"] = claim.until
    return {name: value for name, value in fields.items() if value != ""}


def encode(message: PlannedMessage, state: ClaimState, owner: str, at: float, **extra: str | float) -> Fields:
    """The claim record: no phone number and no text, ever (operators list these)."""
    fields: Fields = {
        "state": state.value,
        "rule": message.rule,
        "booking_id": message.booking_id,
        "owner": owner,
        "at": float(at),
    }
    fields.update((name, capped(name, value)) for name, value in extra.items())
    return opened(fields)


def capped(name: str, value: str | float) -> str | float:
    return value[:REASON_CHARS] if name in ("reason", "note") and isinstance(value, str) else value


def _state(fields: Mapping[str, str | float]) -> tuple[ClaimState, str]:
    """The record's state, and the state as stored when this version does not know it: a state a later
    version wrote (read after a rollback) is read as UNKNOWN, so it is never sent and a person looks at
    it, rather than failing every run that plans its key."""
    raw = str(fields.get("state", ClaimState.UNKNOWN.value))
    try:
        return ClaimState(raw), ""
    except ValueError:
        return ClaimState.UNKNOWN, raw


def decode(fields: Mapping[str, str | float], revision: str) -> Claim:
    until = fields.get("until")
    state, foreign = _state(fields)
    return Claim(
        state=state,
        owner=str(fields.get("owner", "")),
        at=float(fields.get("at", 0)),
        provider_id=str(fields.get("provider_id", "")),
        revision=revision,
        attempt=str(fields.get("attempt", "")),
        # Written with the mark, dropped once reported; a mark from before this field was reported.
        report_pending=fields.get(REPORT) == PENDING,
        fingerprint=str(fields.get("fingerprint", "")),
        until=None if until is None else float(until),
        message_id=str(fields.get("message_id", "")),
        reason=str(fields.get("reason", "")),
        note=str(fields.get("note", "")),
        recipient_fingerprint=str(fields.get("recipient_fingerprint", "")),
        sent_by=str(fields.get("sent_by", "")),
        foreign_state=foreign,
    )


def listed(key: str, fields: Mapping[str, str | float], revision: str) -> tuple[PlannedMessage, Claim]:
    """A listed record as the message it is about (rule, booking id, key; no phone, no text) and its claim."""
    message = PlannedMessage(str(fields.get("rule", "")), str(fields.get("booking_id", "")), "", "", key)
    return message, decode(fields, revision)
