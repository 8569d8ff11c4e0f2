"""`main.lambda_handler`: parse the event, wire adapters, return a JSON object. Never raises.

Only the standard library and our own light modules load at import; selenium, boto3 and requests
load on the paths that need them, which keeps the cold start short.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from naver_sms import __version__
from naver_sms.entrypoints.lambda_events import InvalidEventError, RunRequest, parse_event
from naver_sms.logging_setup import bound, setup_logging

if TYPE_CHECKING:
    from naver_sms.settings import Settings

log = logging.getLogger("naver_sms.lambda")


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
            return _run(request)
        from naver_sms.entrypoints.smoke import run_smoke  # noqa: PLC0415

        return run_smoke(__version__)


def _run(request: RunRequest) -> dict[str, Any]:
    from naver_sms.application.errors import ExternalError  # noqa: PLC0415
    from naver_sms.application.scheduled_run import run_scheduled  # noqa: PLC0415
    from naver_sms.domain.errors import InvalidRules  # noqa: PLC0415
    from naver_sms.entrypoints import lambda_wiring  # noqa: PLC0415
    from naver_sms.settings import Settings, SettingsError  # noqa: PLC0415

    settings = None
    try:
        settings = Settings.load()
        dry_run = settings.sms_dry_run if request.dry_run is None else request.dry_run
        deps = lambda_wiring.run_deps(settings, dry_run=dry_run)
        now = datetime.now(deps.rules.timezone)
        summary = run_scheduled(deps, now, dry_run=dry_run)
    except (SettingsError, InvalidRules) as err:
        return _failure(settings, type(err).__name__, err)
    except ExternalError as err:
        return _failure(settings, err.kind, err)
    except Exception as err:
        log.exception("unexpected failure")
        return _failure(settings, "InternalError", err)
    log.info("run finished", extra=summary.as_result())
    return summary.as_result()


def _failure(settings: Settings | None, kind: str, err: Exception) -> dict[str, Any]:
    from naver_sms.entrypoints.lambda_wiring import send_alert  # noqa: PLC0415

    log.error("run failed", extra={"error_type": kind, "error": str(err)})
    send_alert(settings, f"naver-sms run failed: {kind}: {err}")
    return _error(kind, str(err))


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"status": "error", "error": {"type": kind, "message": message}}
