"""`main.lambda_handler`: parse the event, build the run, return a JSON object. Never raises.

At import only the standard library, our own light modules and the JSON log formatter
(python-json-logger over orjson, logging_setup.py) load; selenium, boto3 and requests load on the paths
that need them, which keeps the cold start short.
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import TYPE_CHECKING, Any

import naver_sms
from naver_sms.application.errors import (
    ExternalError,
    LoginDeferred,
    LoginFailed,
    described,
    error_message,
    error_type,
)
from naver_sms.domain.errors import InvalidEvent
from naver_sms.entrypoints.lambda_events import RunRequest, parse_event
from naver_sms.logging_setup import bound, setup_logging

if TYPE_CHECKING:
    from collections.abc import Callable

    from naver_sms.application.reconcile_pass import ReconcileReport
    from naver_sms.application.scheduled_run import RunSummary, ScheduledRun
    from naver_sms.settings import Settings

log = logging.getLogger("naver_sms.lambda")
ALERT_LINES = 10  # failures named in one Slack alert; the run result lists them all


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    setup_logging()
    request_id = getattr(context, "aws_request_id", None) or "local"
    with bound(request_id=request_id):
        try:
            request = parse_event(event)
        except InvalidEvent as err:
            log.warning("invalid event", extra={"error_type": error_type(err), "error": error_message(err)})
            return _error(err)
        if isinstance(request, RunRequest):
            started = time.monotonic()
            result, run, summary = _run(request, request_id, _time_left(context))
            _metrics(run, summary, time.monotonic() - started)
            if run is not None:
                _reported(run)
            return result
        from naver_sms.entrypoints.smoke import run_smoke  # noqa: PLC0415

        return run_smoke(naver_sms.__version__)


def _time_left(context: Any) -> Callable[[], float] | None:
    """Seconds until Lambda kills this invocation, from its context (None where nobody times it)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None

    def left() -> float:
        try:
            return float(remaining()) / 1000
        except (TypeError, ValueError):
            return math.nan  # unreadable: the run refuses to start (Deadline.check_at_start)

    return left


def _run(
    request: RunRequest, request_id: str, time_left: Callable[[], float] | None
) -> tuple[dict[str, Any], ScheduledRun | None, RunSummary | None]:
    """The result, the run once it was built (what it did counts however it ended) and its summary when it
    finished. Every error is named by `error_type`, one rule for all (docs/architecture.md, Error map)."""
    from naver_sms.application.dry_run import RealSendsNotAllowed  # noqa: PLC0415
    from naver_sms.bootstrap.lambda_image import run_once, scheduled_run  # noqa: PLC0415
    from naver_sms.domain.errors import InvalidRules  # noqa: PLC0415
    from naver_sms.settings import Settings, SettingsError, refresh_secrets  # noqa: PLC0415

    settings, run = None, None
    try:
        settings = Settings.load()
        setup_logging(settings.app.log_level)
        run = scheduled_run(
            settings, requested_dry_run=request.dry_run, request_id=request_id, time_left=time_left
        )
        summary = run_once(run, allow_sends=request.allow_sends)
    except RealSendsNotAllowed as err:
        log.warning("run refused", extra={"error_type": error_type(err), "error": error_message(err)})
        return _error(err), run, None
    except (SettingsError, InvalidRules, ExternalError) as err:
        if isinstance(err, LoginFailed):
            refresh_secrets()  # the password may have been rotated: the next login reads it again
        return _failure(settings, err, run), run, None
    except Exception as err:
        log.exception("unexpected failure")
        return _failure(settings, err, run), run, None
    return _finished(settings, summary), run, summary


def _finished(settings: Settings, summary: RunSummary) -> dict[str, Any]:
    from naver_sms.bootstrap.lambda_image import send_alert  # noqa: PLC0415

    result = summary.as_result()
    failed = result["failed"]
    log.info("run finished", extra={**result, "failed": len(failed)})
    _alert_reconciled(settings, summary.reconciled)
    if summary.held and summary.held_is_news:
        send_alert(settings, f"naver-sms run held by the volume breaker: {summary.held.explain()}")
    if summary.lapsed:
        send_alert(settings, f"naver-sms: {summary.lapsed.explain()}")
    if failed or summary.deferred:
        send_alert(settings, "naver-sms run: " + _attention(failed, summary.deferred))
    return result


def _attention(failed: list[dict[str, Any]], deferred: int = 0) -> str:
    """One alert's text for the messages a run could not settle: each failure (up to ALERT_LINES; the
    result lists them all) and what the deadline left for the next run."""
    lines = [
        f"{f['outcome']} {f['rule'] or '-'} booking {f['booking_id']}: {f.get('reason', '')}" for f in failed
    ]
    more = [f"… and {len(lines) - ALERT_LINES} more"] if len(lines) > ALERT_LINES else []
    late = [f"{deferred} message(s) left for the next run: the run's deadline came first"] if deferred else []
    head = f"{len(failed)} message(s) need attention" if failed else "messages left for the next run"
    return "\n".join([head, *lines[:ALERT_LINES], *more, *late])


def _alert_reconciled(settings: Settings | None, reconciled: ReconcileReport | None) -> None:
    """One alert for the messages the reconcile pass found a person should know of: each handset
    failure (phone masked) and each expiry, named once, by the pass whose write moved it. A pass that
    failed is in the result and the metrics (ReconcileFailed), not alerted: SENS down for an hour would
    repeat it every run."""
    from naver_sms.bootstrap.lambda_image import send_alert  # noqa: PLC0415

    lines = reconciled.attention() if reconciled is not None else []
    if not lines:
        return
    more = [f"… and {len(lines) - ALERT_LINES} more: the run's result and `make claims` list them"]
    shown = lines[:ALERT_LINES] + (more if len(lines) > ALERT_LINES else [])
    head = f"naver-sms reconcile: {len(lines)} message(s) need attention (none is resent)"
    send_alert(settings, "\n".join([head, *shown]))


def _failure(settings: Settings | None, err: Exception, run: ScheduledRun | None = None) -> dict[str, Any]:
    """A run that stopped: its error, and every failure it had met before (an SMS marked unknown
    before the sent log failed must not vanish from the result, the alert and the metric)."""
    from naver_sms.application.delivery import FAILURES, Outcome  # noqa: PLC0415
    from naver_sms.bootstrap.lambda_image import send_alert  # noqa: PLC0415

    log.error("run failed", extra={"error_type": error_type(err), "error": error_message(err)})
    result = _error(err)
    # The pass before the run is over whatever stopped the run after it: what it moved is said now.
    reconciled = run.reconciled if run is not None else None
    if reconciled is not None:
        result["reconcile"] = reconciled.as_result()
        _alert_reconciled(settings, reconciled)
    done = run.done if run is not None else []
    if done:
        result["failed"] = [d.as_record() for d in done if d.outcome in FAILURES]
        result["sent"] = sum(1 for d in done if d.outcome is Outcome.SENT)
    earlier = f"\nbefore it: {_attention(result['failed'])}" if result.get("failed") else ""
    # A deferred login repeats every run until its backoff ends: the failure that started it alerted
    # once, and the LoginDeferred metric counts the rest.
    if not isinstance(err, LoginDeferred) or earlier:
        send_alert(settings, f"naver-sms run failed: {described(err)}{earlier}")
    return result


def _metrics(run: ScheduledRun | None, summary: RunSummary | None, seconds: float) -> None:
    """One EMF record per scheduled run, however it ended: what an operator alarms on (unknown outcomes,
    failed runs, failed logins, held runs), counted from whatever the run delivered before it ended."""
    from naver_sms.adapters.emf import write_emf  # noqa: PLC0415
    from naver_sms.application.run_metrics import RunMetrics  # noqa: PLC0415
    from naver_sms.application.scheduled_run import LoginTally  # noqa: PLC0415

    done, tally = (run.done, run.tally) if run is not None else ([], LoginTally())
    reconciled = run.reconciled if run is not None else None
    metrics = RunMetrics.of(done, tally, summary, seconds, reconciled).metrics()
    write_emf(metrics, {"FunctionName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")})


def _reported(run: ScheduledRun) -> None:
    """The run's unknowns are in its result, its alert and its metric now: their reports are no longer
    pending. A run killed before this point leaves them pending, and the next run reports them."""
    from naver_sms.bootstrap.lambda_image import acknowledge  # noqa: PLC0415

    try:
        acknowledge(run)
    except Exception as err:  # noqa: BLE001  (reported again next run at worst: never lost, never raised)
        log.warning("unknowns reported, but not recorded as reported", extra={"error": str(err)})


def _error(err: Exception) -> dict[str, Any]:
    return {"status": "error", "error": {"type": error_type(err), "message": error_message(err)}}
