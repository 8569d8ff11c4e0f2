"""Operational alerts to a Slack incoming webhook; a failing webhook never fails the run."""

from __future__ import annotations

import logging

import requests

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 5.0  # an alert is sent at the end of a run: it must not hold the run up for long


class SlackAlerter:
    def __init__(self, webhook_url: str) -> None:
        self._url = webhook_url

    def alert(self, text: str) -> None:
        try:
            response = requests.post(self._url, json={"text": text}, timeout=TIMEOUT_SECONDS)
            response.raise_for_status()
        except requests.RequestException as err:
            log.warning("slack alert failed", extra={"error": type(err).__name__})


class LogOnlyAlerter:
    """Used when no webhook is configured: the alert still reaches the logs."""

    def alert(self, text: str) -> None:
        log.warning("alert", extra={"alert": text})
