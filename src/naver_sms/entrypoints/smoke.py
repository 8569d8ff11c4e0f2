"""{"smoke": true}: settings load, secrets resolve, the browser starts. No side effects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from naver_sms.application.errors import described

log = logging.getLogger("naver_sms.smoke")


def run_smoke(version: str) -> dict[str, Any]:
    from naver_sms.adapters.browser import probe_browser  # noqa: PLC0415
    from naver_sms.bootstrap.lambda_image import browser_config  # noqa: PLC0415
    from naver_sms.settings import Settings  # noqa: PLC0415

    checks: dict[str, str] = {}
    try:
        settings = Settings.load()
    except Exception as err:  # noqa: BLE001  (report every failing check, never raise)
        checks["settings"] = f"error: {err}"
        return _result(checks, version)
    checks["settings"] = "ok"
    secrets = settings.secrets()
    checks["secrets"] = _check(lambda: [s.reveal() for s in secrets]) if secrets else "skipped"
    checks["browser"] = _check(lambda: probe_browser(browser_config(settings)))
    return _result(checks, version)


def _check(probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as err:  # noqa: BLE001
        return f"error: {described(err)}"
    return "ok"


def _result(checks: dict[str, str], version: str) -> dict[str, Any]:
    ok = all(v in ("ok", "skipped") for v in checks.values())
    if not ok:
        log.error("smoke failed", extra={"checks": checks})
    return {"status": "ok" if ok else "error", "checks": checks, "version": version}
