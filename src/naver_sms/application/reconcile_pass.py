"""The scheduled run's reconcile pass (issue #36): one Reconciler pass after the run has its bookings and
before it plans them, bounded by the run's time, and never the run's failure.

After the bookings: a message the pass releases (SENS never accepted it) is planned and sent by this
same run, and a run that cannot log in or read Naver releases nothing it could not follow up. Its time
is the smaller of the settings' budget and a share of the time the run has beyond its deadline's
reserve, so the sends after it still fit: it takes no new record after that, and a SENS read still
waiting a grace later (READ_GRACE_SECONDS, at most the budget again) is cut off, its record left unknown
for the next run (a write to the sent log is never cut). Time running out is no failure; a pass that
fails (the sent log's listing, SENS unreachable, none of its answers readable or none in the pass's
time, a bug) is said in the report and counted in ReconcileFailed; the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from naver_sms.application.deadline import Deadline
from naver_sms.application.errors import SentLogError, described
from naver_sms.application.reconcile import Reconciler
from naver_sms.application.reconcile_result import ReconcileResult
from naver_sms.domain.phone import mask_phones_in

log = logging.getLogger(__name__)
DRY_RUN = "dry run: it records nothing, so it does not reconcile the sent log either"


class Status:
    OK = "ok"
    FAILED = "failed"  # the pass stopped: nothing or only part of it was done
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ReconcileReport:
    """What the run's pass did (its result, whole or as far as it went), or why it did not run."""

    status: str
    result: ReconcileResult | None = None
    reason: str = ""  # why it failed or was skipped, phones masked

    def as_result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if self.result is not None:
            r = self.result
            out["counts"] = r.counts()
            out["handset_failed"] = [failure.as_record() for failure in r.handset_failed]
            out["expired"] = [settled.__dict__ for settled in r.expired]
            out["errors"] = [settled.__dict__ for settled in r.errors]
        return out

    def attention(self) -> list[str]:
        """One line per message a person should know of: each handset failure (phone masked) and each
        expiry. The pass whose write moved the record is the only one that lists it, so each is said
        once."""
        if self.result is None:
            return []
        return [
            f"not delivered to the handset: {f.rule} booking {f.booking_id} to {f.masked_phone} "
            f"(SENS status {f.status_code} {f.status_name})"
            for f in self.result.handset_failed
        ] + [f"expired, never sent: {s.rule} booking {s.booking_id}: {s.reason}" for s in self.result.expired]


# How long past its budget a SENS read already under way may go on: a pass spends nearly all its time in
# reads, so a cut at the budget itself would cut one in every pass with a backlog. Never more than the
# budget again, so the pass keeps to half the spare time at most.
READ_GRACE_SECONDS = 10.0


def budget(deadline: Deadline, settings_budget: float, share: float) -> float:
    """The pass's time: the settings' budget, at most a share of the time the run can spare beyond its
    deadline's reserve, so the rest is the sends'."""
    spare = max(0.0, deadline.time_left() - deadline.reserve_seconds)  # NaN (unreadable) gives 0
    return min(settings_budget, share * spare)


async def reconcile_pass(
    build: Callable[[], Reconciler], deadline: Deadline, share: float
) -> ReconcileReport:
    """One pass of the reconciler `build` makes, its SENS connections closed after it."""
    try:
        reconciler = build()
    except Exception as err:  # noqa: BLE001  (SENS's keys unreadable, say: the run goes on)
        return _failed(mask_phones_in(described(err)), None)
    try:
        return await _timed(reconciler, budget(deadline, reconciler.settings.budget_seconds, share))
    finally:
        await reconciler.messages.close()


async def _timed(reconciler: Reconciler, seconds: float) -> ReconcileReport:
    """The pass takes no new record after `seconds`, and a SENS read still waiting a grace after that is
    cut off (a write to the sent log never is: it may land whatever its await says, and what it moved
    must be reported). Time running out is no failure (the rest waits for the next run); a SENS that
    answered nothing in the pass's time, or none of whose answers could be read, is."""
    cut = seconds + min(READ_GRACE_SECONDS, seconds)
    try:
        result = await reconciler.run(budget_seconds=seconds, cut_seconds=cut)
    except SentLogError as err:
        return _failed(mask_phones_in(described(err)), None)
    except Exception as err:
        log.exception("reconcile pass failed")
        return _failed(mask_phones_in(described(err)), reconciler.result)
    if result.sens_unreadable:
        # Not one read answered: SENS down, or its answers refused (a page that does not say whether
        # more follow). Nothing could be concluded, which an operator must hear of (ReconcileFailed).
        return _failed(f"SENS could not be read: {result.stopped or 'every read failed'}", result)
    if result.stopped.startswith("cut off") and not result.sens_answered:
        why = f"cut off after {cut:.0f} s: SENS answered nothing in the time the pass could take"
        return _failed(f"{why}; the rest waits for the next run", result)
    log.info("reconcile pass", extra=result.counts())
    return ReconcileReport(Status.OK, result)


def _failed(reason: str, partial: ReconcileResult | None) -> ReconcileReport:
    log.error("reconcile pass failed; the run goes on", extra={"error": reason})
    return ReconcileReport(Status.FAILED, partial, reason)
