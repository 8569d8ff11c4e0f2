"""Worker entry point: settings, logging, then the service until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

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

        code = asyncio.run(Worker(settings).run())
    except (SettingsError, InvalidRules) as err:
        log.error("configuration error", extra={"error": str(err)})
        return EXIT_CONFIG_ERROR
    exit_now_if_sends_hang(code)
    return code


IDLE_THREAD_EXIT_SECONDS = 0.5


def exit_now_if_sends_hang(code: int) -> None:
    """The interpreter joins worker threads at exit; one blocked on the SMS API (up to its timeouts
    and retries) would hold the process past Docker's stop grace and be SIGKILLed mid-log. Its event was
    nak'ed and its claim kept, so it is never sent twice: leave now, with the logs flushed."""
    from naver_sms.entrypoints.worker.service import DELIVERY_THREADS  # noqa: PLC0415

    # Idle threads of the shut-down pool leave within milliseconds; only a blocked send stays.
    deadline = time.monotonic() + IDLE_THREAD_EXIT_SECONDS
    for thread in threading.enumerate():
        if thread.name.startswith(DELIVERY_THREADS):
            thread.join(max(deadline - time.monotonic(), 0))
    if any(t.name.startswith(DELIVERY_THREADS) and t.is_alive() for t in threading.enumerate()):
        logging.getLogger("naver_sms.worker").warning("exiting with SMS sends still blocked")
        logging.shutdown()
        os._exit(code)
