"""Worker entry point: settings, logging, then the service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os

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
        log.error("configuration error", extra={"error": str(err)})
        return EXIT_CONFIG_ERROR
    exit_now_if_sends_hang(code, worker.blocked_sends)
    return code


def exit_now_if_sends_hang(code: int, blocked_sends: int) -> None:
    """The interpreter joins worker threads at exit; one blocked on the SMS API (up to its timeouts
    and retries) would hold the process past Docker's stop grace and be SIGKILLed mid-log. Its event was
    nak'ed and its claim kept, so it is never sent twice: leave now, with the logs flushed."""
    if blocked_sends:
        logging.getLogger("naver_sms.worker").warning(
            "exiting with SMS sends still blocked", extra={"blocked_sends": blocked_sends}
        )
        logging.shutdown()
        os._exit(code)
