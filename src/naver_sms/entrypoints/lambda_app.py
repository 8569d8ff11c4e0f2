"""`main.lambda_handler`: parse the event, build the run, return a JSON object. Never raises.

Only the standard library and our own light modules load at import; selenium, boto3 and requests
load on the paths that need them, which keeps the cold start short.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

import naver_sms
from naver_sms.entrypoints.lambda_events import InvalidEventError, RunRequest, parse_event
from naver_sms.logging_setup import bound, setup_logging

if TYPE_CHECKING:
    from naver_sms.application.scheduled_run import LoginTally, RunSummary
    from naver_sms.settings import Settings

log = logging.getLogger("naver_sms.lambda")
ALERT_LINES = 10  # failures named in one Slack alert; the run result lists them all


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    setup_logging()
    request_id = getattr(context, "aws_request_id", None) or "local"
    with bound(request_id=request_id):
        try:
            request = parse_event(event)
        except InvalidEventError as err:
            log.warning("invalid event", extra={"error": str(err)})
            return _error("InvalidEvent", str(err))
        if isinstance(request, RunRequest):
            started = time.monotonic()
            result, logins = _run(request, request_id)
            _metrics(result, logins, time.monotonic() - started)
            return result
        from naver_sms.entrypoints.smoke import run_smoke  # noqa: PLC0415

        return run_smoke(naver_sms.__version__)


def _run(request: RunRequest, request_id: str) -> tuple[dict[str, Any], LoginTally]:
    from naver_sms.application.dry_run import RealSendsNotAllowed  # noqa: PLC0415
    from naver_sms.application.errors import ExternalError  # noqa: PLC0415
    from naver_sms.application.scheduled_run import LoginTally  # noqa: PLC0415
    from naver_sms.bootstrap.lambda_image import run_once, scheduled_run  # noqa: PLC0415
    from naver_sms.domain.errors import InvalidRules  # noqa: PLC0415
    from naver_sms.settings import Settings, SettingsError  # noqa: PLC0415

    settings = None
    logins = LoginTally()  # the run's own, once it is built: what it did counts however it ends
    try:
        settings = Settings.load()
        setup_logging(settings.app.log_level)
        run = scheduled_run(settings, requested_dry_run=request.dry_run, request_id=request_id)
        logins = run.tally
        summary = run_once(run, allow_sends=request.allow_sends)
    except RealSendsNotAllowed as err:
        log.warning("run refused", extra={"error": str(err)})
        return _error(err.kind, str(err)), logins
    except (SettingsError, InvalidRules) as err:
        return _failure(settings, type(err).__name__, err), logins
    except ExternalError as err:
        return _failure(settings, err.kind, err), logins
    except Exception as err:
        log.exception("unexpected failure")
        return _failure(settings, "InternalError", err), logins
    return _finished(settings, summary), logins


def _finished(settings: Settings, summary: RunSummary) -> dict[str, Any]:
    from naver_sms.bootstrap.lambda_image import send_alert  # noqa: PLC0415

    result = summary.as_result()
    failed = result["failed"]
    log.info("run finished", extra={**result, "failed": len(failed)})
    if summary.held and summary.held_is_news:
        send_alert(settings, f"naver-sms run held by the volume breaker: {summary.held.explain()}")
    if summary.lapsed:
        send_alert(settings, f"naver-sms: {summary.lapsed.explain()}")
    if failed:
        lines = [
            f"{f['outcome']} {f['rule'] or '-'} booking {f['booking_id']}: {f.get('reason', '')}"
            for f in failed
        ]
        more = f"\n… and {len(lines) - ALERT_LINES} more" if len(lines) > ALERT_LINES else ""
        send_alert(
            settings,
            f"naver-sms run: {len(failed)} message(s) need attention\n"
            + "\n".join(lines[:ALERT_LINES])
            + more,
        )
    return result


def _failure(settings: Settings | None, kind: str, err: Exception) -> dict[str, Any]:
    from naver_sms.bootstrap.lambda_image import send_alert  # noqa: PLC0415

    log.error("run failed", extra={"error_type": kind, "error": str(err)})
    # A deferred login repeats every run until its backoff ends: the failure that started it alerted
    # once, and the LoginDeferred metric counts the rest.
    if kind != "LoginDeferred":
        send_alert(settings, f"naver-sms run failed: {kind}: {err}")
    return _error(kind, str(err))


def _metrics(result: dict[str, Any], logins: LoginTally, seconds: float) -> None:
    """One EMF record per scheduled run, however it ended: what an operator alarms on (unknown outcomes,
    failed runs, failed logins, held runs)."""
    from naver_sms.adapters.emf import write_emf  # noqa: PLC0415

    failed = result.get("failed", [])
    outcomes = [f["outcome"] for f in failed]
    counts: dict[str, tuple[float, str]] = {
        "RunFailed": (1.0 if result["status"] == "error" else 0.0, "Count"),
        "RunDuration": (round(seconds * 1000, 1), "Milliseconds"),
        "Logins": (logins.logins, "Count"),
        "LoginFailed": (logins.failed, "Count"),
        "LoginDeferred": (logins.deferred, "Count"),
        "Held": (1.0 if result["status"] == "held" else 0.0, "Count"),
    }
    if result["status"] != "error":
        counts |= {
            "Sent": (result["sent"], "Count"),
            "Duplicates": (result["skipped_duplicates"], "Count"),
            "Unknown": (outcomes.count("unknown"), "Count"),
            "Invalid": (outcomes.count("invalid"), "Count"),
            "Failed": (len(failed), "Count"),
        }
    write_emf(counts, {"FunctionName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")})


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"status": "error", "error": {"type": kind, "message": message}}
