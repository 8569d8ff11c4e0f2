"""The booking API's HTTP session: retries with backoff on 5xx and connection errors, never on a refusal."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# Not 429 (nor 403): a refusal is handed to the caller at once, as SourceRefused; asking again at once
# is what a rate limit punishes.
RETRY_STATUSES = (500, 502, 503, 504)


BACKOFF_SECONDS = 0.3  # urllib3's backoff factor: 0.3 s, 0.6 s, 1.2 s … between tries
BACKOFF_MAX_SECONDS = 5.0  # however many attempts are configured, no one wait is longer


def retrying_session(max_attempts: int) -> requests.Session:
    """Retries GETs only: reads are safe to repeat (an SMS is sent by SENS's own client, which decides
    its retries knowing what one could double-send)."""
    retry = Retry(
        total=max_attempts - 1,
        backoff_factor=BACKOFF_SECONDS,
        backoff_max=BACKOFF_MAX_SECONDS,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        # Backoff only. Respecting Retry-After, urllib3 would sleep whatever a 503 asks (an hour, past
        # the Lambda's own timeout) and would retry a 429 or 413 that carries one even outside
        # status_forcelist. The server's wish reaches our code instead (SourceRefused.retry_after), which
        # decides: the run fails fast and the next scheduled one tries again.
        respect_retry_after_header=False,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
