"""JSON logging shared by both entry points, with context bound per request or message."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter

from naver_sms.domain.phone import mask_phones_within

_context: ContextVar[dict[str, Any]] = ContextVar("log_context", default={})  # noqa: B039  (never mutated)
_FIELDS = "{asctime}{levelname}{name}{message}"
_RENAME = {"asctime": "timestamp", "levelname": "level", "name": "logger"}


MAX_VALUE_CHARS = 1000  # any one logged string; a 1 MB field must not become a 1 MB log line


def _capped(value: object) -> object:
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else f"{value[:MAX_VALUE_CHARS]}… ({len(value)} chars)"
    if isinstance(value, dict):
        return {key: _capped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_capped(item) for item in value]
    return value


class _ScrubbingJsonFormatter(OrjsonFormatter):
    """Personal data stays out of logs whoever logs it: phone numbers are masked in every value before it
    is encoded (an escape such as `\\n` would glue a number to a letter), then every value is capped,
    so a cap never cuts a number before it is masked. The timestamp is formatted once per second: a
    worker logs each event."""

    _second: int | None = None
    _timestamp = ""

    def serialize_log_record(self, log_data: dict[str, Any]) -> str:
        return super().serialize_log_record(
            {key: _capped(mask_phones_within(value)) for key, value in log_data.items()}
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # Called under the handler's lock, so the cache needs none of its own.
        second = int(record.created)
        if second != self._second:
            self._second, self._timestamp = second, super().formatTime(record, datefmt)
        return self._timestamp


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            setattr(record, key, value)
        return True


def setup_logging(level: str | None = None) -> None:
    """Idempotent: replaces the root handlers (the Lambda runtime installs its own plain one)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        _ScrubbingJsonFormatter(
            _FIELDS,
            style="{",
            rename_fields=_RENAME,
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    handler.addFilter(_ContextFilter())
    # No line shows the caller's file, thread or process: skip collecting them for every record, as the
    # logging HOWTO's "Optimization" section describes.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL") or "INFO").upper())
    # Selenium, urllib3 and botocore are chatty at INFO and below.
    for noisy in ("selenium", "urllib3", "botocore", "boto3", "nats"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def bound(**fields: Any) -> _Bound:
    """Add fields (request_id, message_id …) to every log line inside the block."""
    return _Bound(fields)


class _Bound:
    """bound's block: a plain context manager, as the worker enters one per event (a generator-based one
    costs twice as much)."""

    __slots__ = ("_fields", "_token")

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields
        self._token: Token[dict[str, Any]] | None = None

    def __enter__(self) -> None:
        self._token = _context.set({**_context.get(), **self._fields})

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _context.reset(self._token)


class LineBudget:
    """Lines of one kind that come as fast as events arrive (a dry-run worker's decisions): the first
    `per_second` of each second are logged, the rest counted, and `report` logs the count as one line.
    At DEBUG every one is logged. A burst of 10,000 events then writes about a hundred lines a second, not
    10,000: a log driver that falls behind blocks the process writing to it, and each line costs the
    worker as much CPU as deciding the event."""

    def __init__(
        self,
        logger: logging.Logger,
        report_message: str,
        per_second: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._report_message = report_message
        self._per_second = per_second
        self._clock = clock
        self._second = -1
        self._left = 0
        self._unlogged = 0

    def take(self) -> bool:
        """Whether the next line of this kind is logged; if not, it is counted for `report`."""
        second = int(self._clock())
        if second != self._second:
            self._second, self._left = second, self._per_second
        if self._left > 0:
            self._left -= 1
            return True
        if self._logger.isEnabledFor(logging.DEBUG):
            return True
        self._unlogged += 1
        return False

    def report(self) -> None:
        """Log how many lines were left out since the last report, if any were."""
        if self._unlogged:
            self._logger.info(
                self._report_message,
                extra={"not_logged": self._unlogged, "logged_per_second": self._per_second},
            )
            self._unlogged = 0
