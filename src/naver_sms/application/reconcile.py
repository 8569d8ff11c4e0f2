"""Reconcile the sent log with SENS's own record of what it accepted (issue #36), so that an `unknown`
send (it may have reached SENS, its answer never came back) stops waiting for a person, and a send's
handset result is known.

Per unknown, once its window has settled (SENS lists a request by when it received it, and may list it
late: the window is [claim time - margin, claim time + lease + margin], the claim's lease being the
longest a send under it can take, and it has settled `settle_seconds` after its end): SENS's list is
read from `lookback_seconds` (at least the margin) before the claim up to now, or 30 days after the
claim if sooner, in pieces of at most 30 days (the longest window SENS lists at once). The claim's
fingerprint (domain.messages.fingerprint: key, phone, text) is salted with its key, so a match anywhere
in that range is this key's send and never another's: reading wide costs no false match, and a send
SENS stamped late, or a claimer's clock ahead of SENS's, is still found. Each listed message is matched
against the claim's own fingerprint and recipient fingerprint (the phone alone, key-salted; the sent
log stores neither phone nor text), both written by the claim's sender and carried unchanged by every
later write on the claim:
- exactly one match: it was sent → SENT with SENS's ids;
- none, the whole range read, and nothing else to this recipient listed in it: SENS never accepted it
  → released while its rule's window stays open long enough for a run to send it, `resend_not_found`
  is on and its rule is sent by the scheduled run (which replans it), else EXPIRED once its window has
  closed (or closes too soon for a run to send it), never sent, reported;
- several matches, a listed message that could be ours but cannot be told (no recipient, no text, text
  that cannot be encoded), a message to the same number with other text (a near miss: a trimmed space,
  a normalised character), a list that could not be read whole, a range past the 90 days SENS keeps, a
  record with no fingerprint or no recipient fingerprint (written before they were), or a state this
  version does not know: it stays unknown, the reason written on it for `make claims`.
A not-found unknown that nothing resends (`resend_not_found` off, or a message of the worker's events,
whose event was settled when it was marked and is never planned again) stays unknown for a person
until its window closes, then expires. Per send awaiting its handset result, once
`handset_delay_seconds` old: SENS's COMPLETED result is recorded (DELIVERED, or FAILED with its code,
reported once with the phone masked); READY or PROCESSING is left for the next pass; after
`handset_give_up_seconds` nobody waits for it any more.

Every write is a compare-and-set on the revision listed, so reconcilers racing move a record once and
only the winner reports it. One record's failure, whatever it is, is in the result's errors (phones
masked) and the pass goes on. A pass stops taking new records once its time budget is spent, at its
cut (a SENS read still waiting then is cut off; a write never is), or once SENS cannot be reached; the
rest wait for the next pass. Nothing here is ever sent: a released message is sent by the run that
plans it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from naver_sms.application.errors import (
    OddAnswer,
    SentLogError,
    SentMessagesError,
    SentMessagesUnavailable,
    described,
)
from naver_sms.application.ports import (
    Claim,
    ClaimState,
    OpenClaims,
    Processing,
    Reconciling,
    SentMessage,
    SentMessages,
)
from naver_sms.application.reconcile_result import HandsetFailure, Listed, ReconcileResult, Settled
from naver_sms.domain.errors import InvalidBooking
from naver_sms.domain.messages import PlannedMessage, SentBy, listed_fingerprint, listed_recipient
from naver_sms.domain.phone import mask_phone, mask_phones_in, normalise_phone

log = logging.getLogger(__name__)
T = TypeVar("T")


KEPT_SECONDS = 90 * 86_400  # how far back SENS lists requests (../shared/notes/sens.md)
MINUTE, HOUR, DAY = 60.0, 3_600.0, 86_400.0
# The longest request-time window SENS lists at once (adapters/sens_records.LONGEST_WINDOW): a longer
# range is read in pieces of this.
PIECE_SECONDS = 30 * DAY
SAME_RECIPIENT = "a message to the same number with other text was listed: check by hand"


@dataclass(frozen=True, kw_only=True)
class ReconcileSettings:
    lease_seconds: float  # the sent log's claim lease: the longest a send under a claim can take
    settle_seconds: float = 15 * MINUTE  # after a window's end, before its list is trusted whole
    margin_seconds: float = 2 * MINUTE  # either side of the window: our clock against SENS's
    # How far SENS's list is read around a claim: from this long before it (at least the margin: a
    # claimer's clock ahead of SENS's) up to now, or this long after it if sooner (SENS stamped it late,
    # its sender paused past its lease). The fingerprint is salted with the key, so reading wide makes no
    # false match.
    lookback_seconds: float = 10 * MINUTE
    lookahead_seconds: float = 30 * DAY
    handset_delay_seconds: float = 5 * MINUTE  # after a send, before its handset result is asked for
    handset_give_up_seconds: float = 3 * DAY  # after a send, no result is waited for any more
    # Release a never-accepted unknown whose window is open, for the scheduled run to send again (a
    # message of the worker's events is never released: nothing plans it again).
    resend_not_found: bool = True
    # A release is only worth it while a run can still plan the message: its window must stay open this
    # long, or the message is expired instead (a release nobody resends would vanish unreported).
    resend_lead_seconds: float = 30 * MINUTE
    budget_seconds: float = 60.0  # a pass takes no new record after this long (one SENS read may follow)


def _unique(messages: Iterable[SentMessage]) -> list[SentMessage]:
    # One message listed twice (a repeated page) is one message, not two matches.
    return list({sent.message_id: sent for sent in messages}.values())


@dataclass
class Matched:
    """What SENS's list says of one claim: the messages that are its send, how many could be but cannot
    be told (no recipient, no text, text that cannot be encoded), and how many went to its recipient
    with other text."""

    matches: list[SentMessage] = field(default_factory=list)
    untold: int = 0
    same_recipient: int = 0


def matching(key: str, claim: Claim, listed: Iterable[SentMessage]) -> Matched:
    """The listed messages against the claim's fingerprint and recipient fingerprint."""
    found = Matched()
    for sent in _unique(listed):
        if not sent.to.strip():
            found.untold += 1
            continue
        recipient = listed_recipient(key, sent.to)
        if recipient is None:
            continue  # no Korean mobile number: never one of ours
        if claim.recipient_fingerprint and recipient != claim.recipient_fingerprint:
            continue  # another number: not ours, whatever its text
        text = None if sent.content is None else listed_fingerprint(key, sent.to, sent.content)
        if text is None:
            found.untold += 1
        elif text == claim.fingerprint:
            found.matches.append(sent)
        elif claim.recipient_fingerprint:
            found.same_recipient += 1
    return found


def verdict(found: Matched, claim: Claim) -> tuple[SentMessage | None, str]:
    """(the one match, "") or (None, "") for "never accepted", or (None, why nothing can be said)."""
    if len(found.matches) > 1:
        n = len(found.matches)
        return None, f"{n} messages in SENS's list match it: which one is ours is a person's call"
    if found.matches:
        return found.matches[0], ""
    if found.untold:
        return None, (
            f"none found, but {found.untold} message(s) listed since its claim could not be told apart "
            "(no recipient or text, or text that cannot be read)"
        )
    if found.same_recipient:
        return None, SAME_RECIPIENT
    if not claim.recipient_fingerprint:
        return None, (
            "not found, but the record has no recipient fingerprint (claimed before it was written), so a "
            "message to the same number with other text cannot be ruled out: check SENS by hand"
        )
    return None, ""


def masked(to: str) -> str:
    try:
        return mask_phone(normalise_phone(to))
    except InvalidBooking:
        return mask_phone(to)


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def pieces(start: float, end: float) -> list[tuple[float, float]]:
    """[start, end] as consecutive windows SENS lists at once (each at most PIECE_SECONDS)."""
    out = []
    while True:
        last = min(end, start + PIECE_SECONDS)
        out.append((start, last))
        if last >= end:
            return out
        start = last


@dataclass(kw_only=True)
class Reconciler:
    messages: SentMessages
    sent_log: Reconciling
    open_claims: OpenClaims
    settings: ReconcileSettings
    clock: Callable[[], float] = time.time
    result: ReconcileResult = field(default_factory=ReconcileResult, init=False)
    _cut_at: float | None = field(default=None, init=False)  # the loop's time a SENS read is cut at

    async def run(
        self, *, budget_seconds: float | None = None, cut_seconds: float | None = None
    ) -> ReconcileResult:
        """One pass over what the sent log lists for reconciling, oldest unknowns first. A listing that
        fails raises SentLogError (nothing was done); a record's own failure is in the result's errors.
        `budget_seconds` shortens the settings' budget for this pass (a run with little time left): no
        record is started after it. `cut_seconds` from now, a SENS read still waiting is cut off and
        the pass ends, its record left unknown (noted): only reads are cut, never a write to the sent log,
        whose answer (a record moved, to report) would otherwise be lost while the write still lands.
        A SENS that cannot be reached ends the pass too: asking again for each record would only spend
        the run's time. `self.result` is filled in as the pass goes."""
        self.result, started = ReconcileResult(), self.clock()
        budget = self.settings.budget_seconds
        if budget_seconds is not None:
            budget = min(budget, budget_seconds)
        loop = asyncio.get_running_loop()
        self._cut_at = None if cut_seconds is None else loop.time() + cut_seconds
        todo = sorted(
            await self.open_claims.to_reconcile(), key=lambda item: (not _unknown(item), item[1].at)
        )
        for done, (message, claim) in enumerate(todo):
            if self.clock() - started >= budget:
                self._stopped("time budget spent", left=len(todo) - done)
                break
            try:
                await self._one(message, claim)
            except Exception as err:
                if not isinstance(err, SentLogError):
                    log.exception("reconciler: a record failed", extra={"key": message.idempotency_key})
                self.result.errors.append(Settled.of(message, mask_phones_in(described(err))))
            if self.result.stopped:  # cut, or SENS unreachable (_read): the others would only wait too
                self._stopped(self.result.stopped, left=len(todo) - done - 1)
                break
        return self.result

    def _stopped(self, why: str, *, left: int) -> None:
        self.result.stopped, self.result.left = why, left
        log.warning("reconciler: pass stopped", extra={"why": why, "left": left})

    async def _read(self, asked: Awaitable[T]) -> T:
        """One SENS read, cut off at the pass's cut; counted, so a pass that read nothing is known."""
        try:
            if self._cut_at is None:
                answer = await asked
            else:
                async with asyncio.timeout_at(self._cut_at):
                    answer = await asked
        except TimeoutError:
            # Our own cut, not SENS's failure: this record is left unknown (noted), the pass ends.
            self.result.stopped = "cut off mid-read: the time the pass could take ran out"
            raise SentMessagesUnavailable("SENS did not answer before the pass's time ran out") from None
        except SentMessagesUnavailable as err:
            self.result.sens_failed += 1
            self.result.stopped = f"SENS could not be reached ({mask_phones_in(described(err))})"
            raise
        except SentMessagesError:
            self.result.sens_failed += 1
            raise
        self.result.sens_answered += 1
        return answer

    async def _one(self, message: PlannedMessage, claim: Claim) -> None:
        if claim.foreign_state:  # written by a later version: nothing here knows what it means
            why = f"state {claim.foreign_state[:40]!r} is unknown to this version: left as it is for a person"
            self.result.still_unknown.append(Settled.of(message, mask_phones_in(why)))
        elif claim.state is ClaimState.UNKNOWN:
            await self._unknown(message, claim)
        elif claim.state is ClaimState.SENT:
            await self._handset(message, claim)
        # Anything else was settled after the index listed it (an index lags): nothing to do.

    async def _unknown(self, message: PlannedMessage, claim: Claim) -> None:
        now, s = self.clock(), self.settings
        if now < claim.at + s.lease_seconds + s.margin_seconds + s.settle_seconds:
            self.result.waiting += 1
            return
        start = claim.at - max(s.margin_seconds, s.lookback_seconds)
        end = min(now, claim.at + max(s.lease_seconds + s.margin_seconds, s.lookahead_seconds))
        found, reason = await self._find(message.idempotency_key, claim, start, end, now)
        if reason:
            await self._stays(message, claim, reason)
        elif found is not None:
            won = await self.sent_log.resolve_sent(
                message.idempotency_key,
                claim,
                found.request_id,
                found.message_id,
                found.request_time.timestamp(),
            )
            self._moved(won, self.result.resolved_sent, message, f"found in SENS's list: {found.request_id}")
        else:
            await self._not_found(message, claim, now)

    async def _find(
        self, key: str, claim: Claim, start: float, end: float, now: float
    ) -> tuple[SentMessage | None, str]:
        """(the one matching message, "") or (None, "") for none, or (None, why nothing can be said)."""
        if not claim.fingerprint:
            return None, "no fingerprint on the record (claimed before #36): check SENS by hand"
        if start < now - KEPT_SECONDS:  # SENS would list part of it, or refuse (WindowRefused)
            return None, "claimed more than 90 days ago, past what SENS lists: check by hand"
        listed: list[SentMessage] = []
        try:  # the whole range, or no conclusion: a list read in part would pass for "never sent"
            for first, last in pieces(start, end):
                listed += await self._read(self.messages.in_window(_moment(first), _moment(last)))
        except SentMessagesError as err:
            return None, f"SENS's list could not be read whole ({mask_phones_in(described(err))})"
        return verdict(matching(key, claim, listed), claim)

    async def _not_found(self, message: PlannedMessage, claim: Claim, now: float) -> None:
        """SENS never accepted it: sent again by the next run while its window is open and a run replans
        it, else kept for a person until its window closes, then expired."""
        key, s = message.idempotency_key, self.settings
        never = "not in SENS's list (never accepted)"
        if claim.until is None:
            why = f"{never}, and when its rule stops sending it is not recorded"
            self._moved(await self.sent_log.expire(key, claim, why), self.result.expired, message, why)
            return
        open_for = claim.until - now
        if open_for <= 0:
            why = f"{never}, and its window has closed"
            self._moved(await self.sent_log.expire(key, claim, why), self.result.expired, message, why)
            return
        replanned = claim.sent_by == SentBy.SCHEDULED.value
        if not (s.resend_not_found and replanned):
            not_resent = (
                "resend_not_found is off"
                if replanned
                else "its rule is not sent by the scheduled run (the worker's events, or a path not "
                "recorded), which alone plans a message again"
            )
            closes = _moment(claim.until).isoformat(timespec="minutes")
            why = (
                f"{never}; not sent again automatically: {not_resent}. It expires once its window closes "
                f"({closes}); send it by hand if it must go"
            )
            await self._stays(message, claim, why)
            return
        if open_for > s.resend_lead_seconds:
            won = await self.sent_log.release_unknown(key, claim)
            why = f"{never}; its window is open {open_for / 60:.0f} min more"
            self._moved(won, self.result.released, message, why)
            return
        why = f"{never}, and its window closes in {open_for / 60:.0f} min, too soon for a run to send it"
        self._moved(await self.sent_log.expire(key, claim, why), self.result.expired, message, why)

    async def _stays(self, message: PlannedMessage, claim: Claim, reason: str) -> None:
        self.result.still_unknown.append(Settled.of(message, reason))
        if claim.note != reason:  # written once, not on every pass
            await self.sent_log.note(message.idempotency_key, claim, reason)

    async def _handset(self, message: PlannedMessage, claim: Claim) -> None:
        now, s, key = self.clock(), self.settings, message.idempotency_key
        if now < claim.at + s.handset_delay_seconds:
            self.result.waiting += 1
            return
        if now >= claim.at + s.handset_give_up_seconds:
            won = await self.sent_log.record_handset(key, claim, None)
            why = f"no handset result from SENS within {s.handset_give_up_seconds / HOUR:g} h"
            self._moved(won, self.result.handset_given_up, message, why)
            return
        try:
            found = await self._handset_of(claim)
        except SentMessagesError as err:
            self.result.errors.append(Settled.of(message, mask_phones_in(described(err))))
            return
        if found is None or found.status is not Processing.COMPLETED or found.result is None:
            self.result.waiting += 1  # not listed yet, or READY / PROCESSING: the next pass
            return
        if not await self.sent_log.record_handset(key, claim, found.result):
            self.result.changed += 1
        elif found.result.delivered:
            self.result.delivered += 1
        else:
            failure = HandsetFailure(
                key, message.rule, message.booking_id, masked(found.to), found.result.status_code, "fail"
            )
            log.warning("sms not delivered to the handset", extra=failure.as_record())
            self.result.handset_failed.append(failure)

    async def _handset_of(self, claim: Claim) -> SentMessage | None:
        """SENS's message with its handset result; None while SENS does not list the request yet."""
        message_id = claim.message_id
        if not message_id:  # a send the delivery confirmed: SENS answered its request id only
            if not claim.provider_id:
                raise OddAnswer("the sent record has no SENS request id to look its message up by")
            listed = _unique(await self._read(self.messages.by_request(claim.provider_id)))
            if not listed:
                return None
            if len(listed) > 1:
                raise OddAnswer(f"SENS lists {len(listed)} messages for one single-message request")
            message_id = listed[0].message_id
        return await self._read(self.messages.message(message_id))

    def _moved(self, won: bool, into: list[Settled], message: PlannedMessage, reason: str) -> None:
        if not won:
            self.result.changed += 1
            return
        into.append(Settled.of(message, reason))
        log.info("reconciled", extra={**Settled.of(message, reason).__dict__})


def _unknown(item: Listed) -> bool:
    return item[1].state is ClaimState.UNKNOWN
