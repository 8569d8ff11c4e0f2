"""The booking API's HTTP session: retries with backoff on 5xx/429 and connection errors."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)


BACKOFF_SECONDS = 0.3  # urllib3's backoff factor: 0.3 s, 0.6 s, 1.2 s … between tries


def retrying_session(max_attempts: int) -> requests.Session:
    """Retries GETs only: reads are safe to repeat (an SMS is sent by SENS's own client, which decides
    its retries knowing what one could double-send)."""
    retry = Retry(
        total=max_attempts - 1,
        backoff_factor=BACKOFF_SECONDS,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
