"""The worker image's composition root. What needs no connection is built first, so a bad setting, rules
file or missing SMS credential stops the worker before it touches NATS."""

from __future__ import annotations

import asyncio
import os
import socket

from nats.js.kv import KeyValue

from naver_sms.adapters.nats_sent_log import NatsKvSentLog, ThreadBridgedSentLog
from naver_sms.adapters.rules_file import load_rules
from naver_sms.application.dry_run import UnrecordedSentLog, decide_dry_run
from naver_sms.application.notify import Notifier
from naver_sms.application.ports import SentLog
from naver_sms.bootstrap.shared import deliverer, sms_transport
from naver_sms.settings import Settings, SettingsError


class WorkerComposition:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dry_run = decide_dry_run(settings.sms_dry_run, requested=None)
        self.owner = f"worker:{socket.gethostname()}:{os.getpid()}"
        self.rules = load_rules(settings.rules_path)
        self.nats_credentials = nats_credentials(settings)
        # One HTTP connection per concurrent send, so no send waits for a pooled connection.
        self.transport = sms_transport(
            settings, dry_run=self.dry_run, pool_size=settings.model.worker.concurrency
        )

    def notifier(self, kv: KeyValue, loop: asyncio.AbstractEventLoop) -> Notifier:
        sent_log: SentLog = (
            UnrecordedSentLog() if self.dry_run else ThreadBridgedSentLog(NatsKvSentLog(kv, self.owner), loop)
        )
        return Notifier(
            self.rules,
            deliverer(self.settings, self.transport, sent_log, owner=self.owner, dry_run=self.dry_run),
        )


def nats_credentials(settings: Settings) -> dict[str, str]:
    """nats.connect's keyword arguments for the configured credentials, revealed only here."""
    w = settings.model.worker
    if w.nats_token.is_set and (w.nats_user or w.nats_password.is_set):
        raise SettingsError("worker.nats_token and worker.nats_user/nats_password: set one, not both")
    if w.nats_token.is_set:
        return {"token": w.nats_token.reveal()}
    if w.nats_user or w.nats_password.is_set:
        if not w.nats_user:
            raise SettingsError("worker.nats_password is set but worker.nats_user is empty: set NATS_USER")
        return {"user": w.nats_user, "password": w.nats_password.reveal()}
    return {}
