"""The worker image's composition root. What needs no connection is built first, so a bad setting, rules
file or missing SMS credential stops the worker before it touches NATS."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from nats.js.kv import KeyValue

from naver_sms.adapters.nats_sent_log import NatsKvSentLog
from naver_sms.adapters.sens_async import AsyncSensTransport
from naver_sms.application.delivery import AsyncDeliverer
from naver_sms.application.dry_run import RefusingAsyncTransport, UnrecordedSentLog, decide_dry_run
from naver_sms.application.notify import AsyncNotifier
from naver_sms.application.ports import AsyncSentLog, AsyncSmsTransport
from naver_sms.bootstrap.shared import sens_config
from naver_sms.logging_setup import LineBudget
from naver_sms.settings import Settings, SettingsError
from naver_sms.settings.rules import load_rules

DRY_RUN_LINES_PER_SECOND = 100  # each decision is logged at the rates of a laptop or a staging stream


class WorkerComposition:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dry_run = decide_dry_run(settings.sms_dry_run, requested=None)
        self.owner = f"worker:{socket.gethostname()}:{os.getpid()}"
        self.rules = load_rules(settings.rules_path)
        self.nats_connection = nats_connection(settings)
        self.dry_run_lines = LineBudget(
            logging.getLogger(AsyncDeliverer.__module__),  # its level decides
            "dry run: decisions not logged one by one",
            DRY_RUN_LINES_PER_SECOND,
        )
        # One HTTP connection per concurrent send, so no send waits for a pooled connection.
        self.transport: AsyncSmsTransport = (
            RefusingAsyncTransport()
            if self.dry_run
            else AsyncSensTransport(*sens_config(settings), pool_size=settings.worker.concurrency)
        )

    def notifier(self, kv: KeyValue) -> AsyncNotifier:
        sent_log: AsyncSentLog = UnrecordedSentLog() if self.dry_run else NatsKvSentLog(kv, self.owner)
        deliverer = AsyncDeliverer(
            owner=self.owner,
            lease_seconds=self.settings.sent_log.claim_lease_seconds,
            dry_run=self.dry_run,
            dry_run_line=self.dry_run_lines.take,
            transport=self.transport,
            sent_log=sent_log,
            send_slots=asyncio.Semaphore(self.settings.worker.concurrency),
        )
        return AsyncNotifier(self.rules, deliverer)


def nats_connection(settings: Settings) -> dict[str, Any]:
    """nats.connect's servers and credentials: how the worker and `make claims` both reach NATS (a
    comma-separated NATS_URL is a cluster's seed list, one URL each)."""
    return {"servers": settings.worker.nats_url.split(","), **nats_credentials(settings)}


def nats_credentials(settings: Settings) -> dict[str, str]:
    """nats.connect's keyword arguments for the one kind of credentials configured, revealed only here."""
    w = settings.worker
    kinds = {
        "user/password (NATS_USER, NATS_PASSWORD)": bool(w.nats_user or w.nats_password.is_set),
        "token (NATS_TOKEN)": w.nats_token.is_set,
        "NKey seed (NATS_NKEY_SEED)": w.nats_nkey_seed.is_set,
        "creds file (NATS_CREDS_FILE)": bool(w.nats_creds_file),
    }
    chosen = [kind for kind, present in kinds.items() if present]
    if len(chosen) > 1:
        raise SettingsError(f"NATS credentials: set one kind, not several: {', '.join(chosen)}")
    if w.nats_token.is_set:
        return {"token": w.nats_token.reveal()}
    if w.nats_nkey_seed.is_set:
        return {"nkeys_seed_str": w.nats_nkey_seed.reveal()}
    if w.nats_creds_file:
        if not os.path.isfile(w.nats_creds_file):
            raise SettingsError(f"worker.nats_creds_file: {w.nats_creds_file!r} is not a readable file")
        return {"user_credentials": w.nats_creds_file}
    if w.nats_user or w.nats_password.is_set:
        if not w.nats_user:
            raise SettingsError("worker.nats_password is set but worker.nats_user is empty: set NATS_USER")
        return {"user": w.nats_user, "password": w.nats_password.reveal()}
    return {}
