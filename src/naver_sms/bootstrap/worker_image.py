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
from naver_sms.settings import Settings


class WorkerComposition:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dry_run = decide_dry_run(settings.sms_dry_run, requested=None)
        self.owner = f"worker:{socket.gethostname()}:{os.getpid()}"
        self.rules = load_rules(settings.rules_path)
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
