"""The worker's stream, subject, consumer and bucket names, read from config/settings.yaml as the worker
reads them: tests, the bench and the smoke script never spell them out."""

from __future__ import annotations

from naver_sms.settings import Settings
from tests.support.procs import REPO

WORKER = Settings.load(REPO / "config", environ={}).worker
