"""The scheduled run's reconcile pass (issue #36): one Reconciler pass before the run plans, bounded by
the run's time, and never the run's failure.

Its budget is the smaller of the settings' and a share of the time the run has beyond its deadline's
reserve, so the sends after it still fit; the pass takes no new record after that. One record's SENS
reads may still follow (a slow SENS), so the pass is also cut off at all of that spare time: the run
then sends nothing (its deadline defers every message) but still ends with its result, alert and
metrics before it is killed. A pass that fails (the sent log's listing, a SENS that cannot be read at
all, a bug) is said in the report; the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
import math
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


def budget(deadline: Deadline, settings_budget: float, share: float) -> tuple[float, float]:
    """(the pass's budget, the time it is cut off at): a share of the spare time, and all of it."""
    spare = max(0.0, deadline.time_left() - deadline.reserve_seconds)  # NaN (unreadable) gives 0
    return min(settings_budget, share * spare), spare


async def reconcile_pass(
    build: Callable[[], Reconciler], deadline: Deadline, share: float
) -> ReconcileReport:
    """One pass of the reconciler `build` makes, its SENS connections closed after it."""
    try:
        reconciler = build()
    except Exception as err:  # noqa: BLE001  (SENS's keys unreadable, say: the run goes on)
        return _failed(f"{type(err).__name__}: {mask_phones_in(str(err))}", None)
    try:
        return await _timed(reconciler, deadline, share)
    finally:
        await reconciler.messages.close()


async def _timed(reconciler: Reconciler, deadline: Deadline, share: float) -> ReconcileReport:
    soft, hard = budget(deadline, reconciler.settings.budget_seconds, share)
    try:
        async with asyncio.timeout(None if math.isinf(hard) else hard):
            result = await reconciler.run(budget_seconds=soft)
    except TimeoutError:
        why = f"cut off after {hard:.0f} s, all the time the run could spare: the rest waits for the next run"
        return _failed(why, reconciler.result)
    except SentLogError as err:
        return _failed(mask_phones_in(described(err)), None)
    except Exception as err:
        log.exception("reconcile pass failed")
        return _failed(mask_phones_in(described(err)), reconciler.result)
    log.info("reconcile pass", extra=result.counts())
    return ReconcileReport(Status.OK, result)


def _failed(reason: str, partial: ReconcileResult | None) -> ReconcileReport:
    log.error("reconcile pass failed; the run goes on", extra={"error": reason})
    return ReconcileReport(Status.FAILED, partial, reason)
