"""The worker's reconciler on a timer (issue #36): a pass soon after start, so a restarted worker settles
what its predecessor left, then one every `reconcile.interval_seconds`. Only a real-sending worker has
one: a dry run records nothing, so there is nothing to reconcile (and its event path stays as it was).

Each pass takes no new record after `reconcile.budget_seconds` (the Reconciler's own budget); a SENS read
still waiting CAP_GRACE_SECONDS past it is cut off (its record stays unknown, noted), and SENS
unreachable ends the pass at its first failed read, so a SENS that hangs cannot wedge the timer. A hard
cap later still is the backstop for a sent log that hangs. A pass cut, capped or stopped leaves every
record as it was or moved once: each write is a compare-and-set, and the next pass reads again. A pass
that fails is logged (its error's type, phones masked) and the next interval tries again.

What a pass did is one JSON line of counts (no phone) and the `naver_sms_worker_reconciled_total`
counters; each handset failure is one WARNING line with the phone masked, written by the Reconciler
only for the pass whose write recorded it, so once per message: the worker's alert (it has no Slack).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from naver_sms.adapters.prometheus_metrics import WorkerMetrics
from naver_sms.application.ports import REASON_CHARS
from naver_sms.application.reconcile import Reconciler
from naver_sms.application.reconcile_result import ReconcileResult
from naver_sms.domain.phone import mask_phones_in

log = logging.getLogger("naver_sms.worker")

CAP_GRACE_SECONDS = 30.0  # past the budget, a SENS read is cut; as long again, the whole pass is capped
# Why the worker's pass never releases a not-found unknown (bootstrap/worker_image.py forces it off).
NOT_FOUND = (
    "a not-found unknown stays unknown for a person, then expires: the worker never resends "
    "(its event was settled when the send became unknown, and nothing plans it again)"
)


@dataclass
class ReconcileLoop:
    reconciler: Reconciler
    metrics: WorkerMetrics
    interval_seconds: float
    first_pass_seconds: float  # after start, before the first pass
    cap_grace_seconds: float = CAP_GRACE_SECONDS
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @property
    def cut_seconds(self) -> float:
        """When a SENS read still waiting is cut off: a grace past the budget."""
        return self.reconciler.settings.budget_seconds + self.cap_grace_seconds

    @property
    def cap_seconds(self) -> float:
        """When the whole pass is stopped: a grace past the cut (a sent log that hangs)."""
        return self.cut_seconds + self.cap_grace_seconds

    async def run(self) -> None:
        """Passes for ever, until cancelled (the worker's stop)."""
        log.info(
            "reconciler started",
            extra={
                "interval_seconds": self.interval_seconds,
                "first_pass_seconds": self.first_pass_seconds,
                "budget_seconds": self.reconciler.settings.budget_seconds,
                "resend_not_found": self.reconciler.settings.resend_not_found,
                "not_found": NOT_FOUND,
            },
        )
        await self.sleep(self.first_pass_seconds)
        while True:
            await self.one_pass()
            await self.sleep(self.interval_seconds)

    async def one_pass(self) -> ReconcileResult | None:
        """One pass, reported; None when it failed before doing anything (the listing)."""
        started = time.monotonic()
        # SENS reads are cut a grace past the budget (a write never is); the cap, later still, is the
        # backstop for a sent log that hangs.
        cap = asyncio.timeout(self.cap_seconds)
        try:
            async with cap:
                result = await self.reconciler.run(cut_seconds=self.cut_seconds)
        # The listing failed (SentLogError), or a fault: the next interval tries again. No traceback,
        # which would show an error's text unmasked.
        except Exception as err:  # noqa: BLE001
            if isinstance(err, TimeoutError) and cap.expired():
                # What it moved before the cut is written, and in the result filled as it went.
                return self._reported(self.reconciler.result, started, cut=True)
            self._failed(err)
            return None
        return self._reported(result, started, cut=result.stopped.startswith("cut off"))

    def _failed(self, err: Exception) -> None:
        self.metrics.reconcile_pass("failed")
        log.warning(
            "reconcile pass failed; the next one tries again",
            extra={"error_type": type(err).__name__, "error": mask_phones_in(str(err))[:REASON_CHARS]},
        )

    def _reported(self, result: ReconcileResult, started: float, *, cut: bool) -> ReconcileResult:
        seconds = time.monotonic() - started
        counts = result.counts()
        self.metrics.reconciled_pass(counts, seconds, cut=cut)
        record = {
            **counts,
            "seconds": round(seconds, 3),
            "cut": cut,
            "resend_not_found": self.reconciler.settings.resend_not_found,
        }
        if cut:
            cap = {"cap_seconds": self.cap_seconds}
            log.warning("reconcile pass cut at its hard cap", extra=record | cap)
        else:
            log.info("reconcile pass", extra=record)
        return result
