"""The reconciler's transitions (ports.Reconciling), written once over a record store's primitives like
the rest of the lifecycle (sent_log.py), so they behave alike on DynamoDB, JetStream KV and the fake.

Each is a compare-and-set on the revision the reconciler listed: it read SENS's record against that very
state of the claim, and a claim that changed since (another reconciler moved it, a run claimed the key
afresh after a release) is not the one its decision is about. So two reconcilers racing move a record
once, and a release never drops a claim made after it. A write whose answer is lost raises SentLogError;
the next pass reads the record again and finds it moved or not.
"""

from __future__ import annotations

import time

from naver_sms.adapters.claim_record import HANDSET_GIVEN_UP, REPORT, capped, opened
from naver_sms.adapters.record_store import Changed, Fields, RecordStore
from naver_sms.application.ports import Claim, ClaimState, HandsetResult

HANDSET_NAMES = {True: "success", False: "fail"}  # SENS's statusName for each result


def _expect(claim: Claim, state: ClaimState) -> None:
    if claim.state is not state:  # a caller's mistake, not a race: races fail the compare-and-set
        raise ValueError(f"this transition starts from a {state.value} claim, not a {claim.state.value} one")


class Reconciliations:
    """Mixed into StoreSentLog, whose record store and owner these are."""

    _records: RecordStore
    _owner: str

    async def resolve_sent(
        self, key: str, unknown: Claim, request_id: str, message_id: str, sent_at: float
    ) -> bool:
        _expect(unknown, ClaimState.UNKNOWN)
        changes: Fields = {
            "state": ClaimState.SENT.value,
            "provider_id": request_id,
            "message_id": message_id,
            "at": float(sent_at),  # when it was sent: the handset result is asked for from then
            "resolved_by": self._owner,
        }
        # The reason it was unknown stays, as its history; the claim's attempt token has no use now.
        return await self._amend(key, unknown, changes, drop=(REPORT, "attempt", "note"))

    async def release_unknown(self, key: str, unknown: Claim) -> bool:
        _expect(unknown, ClaimState.UNKNOWN)
        try:
            await self._records.delete(key, unknown.revision)
        except Changed:
            return False
        return True

    async def expire(self, key: str, unknown: Claim, reason: str) -> bool:
        _expect(unknown, ClaimState.UNKNOWN)
        changes: Fields = {"state": ClaimState.EXPIRED.value, "note": reason, "expired_by": self._owner}
        return await self._amend(key, unknown, changes, drop=(REPORT,))

    async def note(self, key: str, unknown: Claim, reason: str) -> bool:
        _expect(unknown, ClaimState.UNKNOWN)
        return await self._amend(key, unknown, {"note": reason})

    async def record_handset(self, key: str, sent: Claim, result: HandsetResult | None) -> bool:
        _expect(sent, ClaimState.SENT)
        if result is None:
            return await self._amend(key, sent, {HANDSET_GIVEN_UP: "given up"})
        state = ClaimState.DELIVERED if result.delivered else ClaimState.FAILED
        changes: Fields = {
            "state": state.value,
            "status_code": result.status_code,
            "status_name": HANDSET_NAMES[result.delivered],
            "handset_at": time.time(),
        }
        return await self._amend(key, sent, changes)

    async def _amend(self, key: str, claim: Claim, changes: Fields, drop: tuple[str, ...] = ()) -> bool:
        """The record as stored, with `changes`, if it still holds `claim`'s revision: every field this
        version does not know of is kept."""
        held = await self._records.read(key)
        if held is None or held[1] != claim.revision:
            return False
        kept = {name: value for name, value in held[0].items() if name not in drop}
        fields = opened(kept | {name: capped(name, value) for name, value in changes.items()})
        try:
            await self._records.replace(key, fields, claim.revision)
        except Changed:
            return False
        return True
