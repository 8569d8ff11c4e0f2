"""One way to make HTTP sessions: timeouts, and retries with backoff on 5xx/429 and connection errors."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)


def retrying_session(
    max_attempts: int, *, methods: frozenset[str] = frozenset({"GET"}), backoff: float = 0.3
) -> requests.Session:
    """Retry only the given methods: a POST that sends an SMS is retried by its caller, which knows
    whether a retry could double-send."""
    retry = Retry(
        total=max_attempts - 1,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=methods,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
