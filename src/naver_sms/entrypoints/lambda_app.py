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
    from naver_sms.application.scheduled_run import RunSummary
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
            result = _run(request, request_id)
            _metrics(result, time.monotonic() - started)
            return result
        from naver_sms.entrypoints.smoke import run_smoke  # noqa: PLC0415

        return run_smoke(naver_sms.__version__)


def _run(request: RunRequest, request_id: str) -> dict[str, Any]:
    from naver_sms.application.dry_run import RealSendsNotAllowed  # noqa: PLC0415
    from naver_sms.application.errors import ExternalError  # noqa: PLC0415
    from naver_sms.bootstrap.lambda_image import run_once, scheduled_run  # noqa: PLC0415
    from naver_sms.domain.errors import InvalidRules  # noqa: PLC0415
    from naver_sms.settings import Settings, SettingsError  # noqa: PLC0415

    settings = None
    try:
        settings = Settings.load()
        setup_logging(settings.app.log_level)
        summary = run_once(scheduled_run(settings, requested_dry_run=request.dry_run, request_id=request_id))
    except RealSendsNotAllowed as err:
        log.warning("run refused", extra={"error": str(err)})
        return _error(err.kind, str(err))
    except (SettingsError, InvalidRules) as err:
        return _failure(settings, type(err).__name__, err)
    except ExternalError as err:
        return _failure(settings, err.kind, err)
    except Exception as err:
        log.exception("unexpected failure")
        return _failure(settings, "InternalError", err)
    return _finished(settings, summary)


def _finished(settings: Settings, summary: RunSummary) -> dict[str, Any]:
    from naver_sms.bootstrap.lambda_image import send_alert  # noqa: PLC0415

    result = summary.as_result()
    failed = result["failed"]
    log.info("run finished", extra={**result, "failed": len(failed)})
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
    send_alert(settings, f"naver-sms run failed: {kind}: {err}")
    return _error(kind, str(err))


def _metrics(result: dict[str, Any], seconds: float) -> None:
    """One EMF record per scheduled run: what an operator alarms on (unknown outcomes, failed runs)."""
    from naver_sms.adapters.emf import write_emf  # noqa: PLC0415

    failed = result.get("failed", [])
    outcomes = [f["outcome"] for f in failed]
    counts: dict[str, tuple[float, str]] = {
        "RunFailed": (1.0 if result["status"] == "error" else 0.0, "Count"),
        "RunDuration": (round(seconds * 1000, 1), "Milliseconds"),
    }
    if result["status"] != "error":
        counts |= {
            "Sent": (result["sent"], "Count"),
            "Duplicates": (result["skipped_duplicates"], "Count"),
            "Unknown": (outcomes.count("unknown"), "Count"),
            "Invalid": (outcomes.count("invalid"), "Count"),
            "Failed": (len(failed), "Count"),
            "Logins": (1 if result["login"] == "fresh" else 0, "Count"),
        }
    write_emf(counts, {"FunctionName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")})


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"status": "error", "error": {"type": kind, "message": message}}
