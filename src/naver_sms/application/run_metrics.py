"""What one scheduled run did, as the Lambda's metrics (one EMF line a run, adapters/emf.py): each number a
typed field whose metadata names its CloudWatch metric and unit, so no metric is a string key read back
out of the run's result."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from naver_sms.application.delivery import FAILURES, Delivery, Outcome
from naver_sms.application.reconcile_pass import ReconcileReport, Status
from naver_sms.application.scheduled_run import LoginTally, RunSummary
from naver_sms.domain.events import EventType


class Unit(StrEnum):
    """CloudWatch's metric units as the EMF specification spells them; only those a run reports."""

    COUNT = "Count"
    MILLISECONDS = "Milliseconds"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: Unit
    alarm: bool = False  # infra/template.yaml alarms on it (any non-zero sum in 5 minutes)


def _metric(name: str, unit: Unit = Unit.COUNT, *, alarm: bool = False) -> Any:
    return field(metadata={"metric": Metric(name, unit, alarm)})


@dataclass(frozen=True)
class RunMetrics:
    """One run's numbers however it ended: a run that failed counts what it delivered before it stopped
    (an unknown among them above all). The template's alarms read RunFailed, Unknown, LoginFailed, Held."""

    run_failed: int = _metric("RunFailed", alarm=True)  # 1 for a run whose result is an error
    duration_ms: float = _metric("RunDuration", Unit.MILLISECONDS)
    logins: int = _metric("Logins")  # login attempts the guard admitted
    login_failed: int = _metric("LoginFailed", alarm=True)
    login_deferred: int = _metric("LoginDeferred")  # login attempts the guard refused
    held: int = _metric("Held", alarm=True)  # 1 for a run the volume breaker held
    sent: int = _metric("Sent")
    duplicates: int = _metric("Duplicates")
    unknown: int = _metric("Unknown", alarm=True)
    invalid: int = _metric("Invalid")
    failed: int = _metric("Failed")  # every failure the result lists: unknown, retry, refused, invalid
    deferred: int = _metric("Deferred")  # messages left for the next run: the deadline came first
    # The reconcile pass before the run (zero when it did not run: a dry run, a run refused at its start).
    reconcile_failed: int = _metric(
        "ReconcileFailed", alarm=True
    )  # 1 when the pass stopped: SENS or the log unread
    reconcile_resolved: int = _metric("ReconcileResolved")  # unknowns SENS had accepted: now sent
    reconcile_released: int = _metric("ReconcileReleased")  # unknowns SENS never accepted: sent again
    reconcile_expired: int = _metric(
        "ReconcileExpired", alarm=True
    )  # ... whose windows had closed: never sent
    reconcile_still_unknown: int = _metric("ReconcileStillUnknown")
    reconcile_errors: int = _metric("ReconcileErrors")  # records SENS could not tell about this time
    reconcile_left: int = _metric("ReconcileLeft")  # records the pass's budget left for the next
    handset_delivered: int = _metric("HandsetDelivered")
    handset_failed: int = _metric("HandsetFailed", alarm=True)  # alarm: a number that does not take SMS
    # The change feed's events this run derived (zero without a feed, and on its baseline run).
    events_created: int = _metric("EventsCreated")
    events_updated: int = _metric("EventsUpdated")
    events_cancelled: int = _metric("EventsCancelled")
    events_completed: int = _metric("EventsCompleted")
    events_published: int = _metric("EventsPublished")  # handed to the worker's stream, when it has them
    # alarm: confirmations and cancellations wait while NATS does not take them (each run tries again)
    events_unpublished: int = _metric("EventsUnpublished", alarm=True)

    @classmethod
    def of(
        cls,
        done: Sequence[Delivery],
        tally: LoginTally,
        summary: RunSummary | None,
        seconds: float,
        reconciled: ReconcileReport | None = None,
    ) -> RunMetrics:
        """`summary` is None for a run whose result is an error; `done` is what it delivered until then."""
        outcomes = Counter(d.outcome for d in (summary.deliveries if summary else done))
        r = reconciled.result if reconciled is not None else None
        feed = summary.feed if summary else None
        derived = feed.derived if feed else Counter[EventType]()
        return cls(
            events_created=derived[EventType.CREATED],
            events_updated=derived[EventType.UPDATED],
            events_cancelled=derived[EventType.CANCELLED],
            events_completed=derived[EventType.COMPLETED],
            events_published=(feed.published or 0) if feed else 0,
            events_unpublished=feed.unpublished if feed else 0,
            reconcile_failed=int(reconciled is not None and reconciled.status == Status.FAILED),
            reconcile_resolved=len(r.resolved_sent) if r else 0,
            reconcile_released=len(r.released) if r else 0,
            reconcile_expired=len(r.expired) if r else 0,
            reconcile_still_unknown=len(r.still_unknown) if r else 0,
            reconcile_errors=len(r.errors) if r else 0,
            reconcile_left=r.left if r else 0,
            handset_delivered=r.delivered if r else 0,
            handset_failed=len(r.handset_failed) if r else 0,
            run_failed=int(summary is None),
            duration_ms=round(seconds * 1000, 1),
            logins=tally.logins,
            login_failed=tally.failed,
            login_deferred=tally.deferred,
            held=int(summary is not None and summary.held is not None),
            sent=outcomes[Outcome.SENT],
            duplicates=outcomes[Outcome.DUPLICATE],
            unknown=outcomes[Outcome.UNKNOWN],
            invalid=outcomes[Outcome.INVALID],
            failed=sum(outcomes[outcome] for outcome in FAILURES),
            deferred=summary.deferred if summary else 0,
        )

    def metrics(self) -> dict[Metric, float]:
        return {f.metadata["metric"]: getattr(self, f.name) for f in fields(self)}
