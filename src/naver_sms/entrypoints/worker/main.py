"""Worker entry point: settings, logging, then the service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging

from naver_sms.application.errors import error_type
from naver_sms.domain.errors import InvalidRules
from naver_sms.logging_setup import setup_logging
from naver_sms.settings import Settings, SettingsError

EXIT_CONFIG_ERROR = 2


def main() -> int:
    setup_logging()
    log = logging.getLogger("naver_sms.worker")
    try:
        settings = Settings.load()
        setup_logging(settings.app.log_level)
        from naver_sms.entrypoints.worker.service import Worker  # noqa: PLC0415

        worker = Worker(settings)
        code = asyncio.run(worker.run())
    except (SettingsError, InvalidRules) as err:
        log.error("configuration error", extra={"error_type": error_type(err), "error": str(err)})
        return EXIT_CONFIG_ERROR
    return code
