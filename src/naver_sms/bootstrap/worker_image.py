"""The worker image's composition root. What needs no connection is built first, so a bad setting, rules
file or missing SMS credential stops the worker before it touches NATS; the event handler is built once
the connection gives its JetStream context and KV bucket. Each adapter can be passed instead (a unit test's
fakes); entrypoints/worker/service.py keeps only the life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from naver_sms.adapters.nats_connection import connect
from naver_sms.adapters.nats_sent_log import NatsKvRecords, nats_sent_log
from naver_sms.adapters.prometheus_metrics import MeasuredTransport, WorkerMetrics
from naver_sms.adapters.record_store import RecordStore
from naver_sms.adapters.sent_log import ScanOpenClaims, StoreSentLog
from naver_sms.application.delivery import Deliverer
from naver_sms.application.dry_run import UnrecordedSentLog, decide_dry_run
from naver_sms.application.notify import Notifier
from naver_sms.application.ports import SentLog, SentMessages, SmsTransport
from naver_sms.application.reconcile import Reconciler
from naver_sms.application.send_ceiling import SendCeiling
from naver_sms.application.settlement import SettlementPolicy
from naver_sms.bootstrap.shared import (
    OPERATOR,
    deliverer,
    given,
    nats_credentials,
    nats_servers,
    reconcile_settings,
    sent_messages,
    sms_transport,
)
from naver_sms.domain.rules import RuleSet
from naver_sms.entrypoints.worker.handler import EventHandler
from naver_sms.entrypoints.worker.reconcile_loop import ReconcileLoop
from naver_sms.logging_setup import LineBudget
from naver_sms.settings import Settings
from naver_sms.settings.rules import load_rules

DRY_RUN_LINES_PER_SECOND = 100  # each decision is logged at the rates of a laptop or a staging stream
# The send ceiling's window: worker.max_sends_per_minute real sends in any minute. Not a setting; a test
# starts the worker with a shorter one (tests/support/worker.py) to watch several windows in seconds.
SEND_CEILING_WINDOW_SECONDS = 60.0
# After the worker starts, before its first reconcile pass: soon, so a restarted worker settles what its
# predecessor left, yet not in the rush of its start. Not a setting; a test shortens it as the window's.
FIRST_RECONCILE_SECONDS = 10.0


class WorkerComposition:
    """The worker's parts from settings. Each keyword replaces one real adapter (None: the real one): SENS,
    the KV sent log, the rules file, the wall clock (claims, the rules' `now`, the reconciler's), SENS's
    record of what it accepted (the reconciler's). A dry run refuses to send, records nothing and
    reconciles nothing, whatever is passed."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: SmsTransport | None = None,
        sent_log: SentLog | None = None,
        rules: RuleSet | None = None,
        clock: Callable[[], float] = time.time,
        sent_messages: SentMessages | None = None,
    ) -> None:
        self.settings = settings
        self.dry_run = decide_dry_run(settings.sms_dry_run, requested=None)
        self.owner = f"worker:{socket.gethostname()}:{os.getpid()}"  # its claims' writer, given once
        self.rules = given(rules, lambda: load_rules(settings.rules_path))
        self._sent_log = sent_log
        self._sent_messages = sent_messages
        self._clock = clock
        nats_connection(settings)  # its credentials checked now, before anything touches NATS
        self.dry_run_lines = LineBudget(
            logging.getLogger(Deliverer.__module__),  # its level decides
            "dry run: decisions not logged one by one",
            DRY_RUN_LINES_PER_SECOND,
        )
        self.metrics = WorkerMetrics()
        # Real sends past the ceiling wait their turn (application/send_ceiling.py); dry runs never ask.
        self.send_ceiling = SendCeiling(
            settings.worker.max_sends_per_minute,
            window_seconds=SEND_CEILING_WINDOW_SECONDS,
            on_deferred=self.metrics.sends_deferred.inc,
        )
        self.metrics.watch_ceiling(lambda: self.send_ceiling.waiting)
        concurrency = settings.worker.concurrency
        self.transport = MeasuredTransport(
            sms_transport(settings, dry_run=self.dry_run, concurrency=concurrency, override=transport),
            self.metrics,
        )

    def handler(
        self, js: JetStreamContext, kv: KeyValue | None, *, max_deliver: int | None, max_payload: int
    ) -> EventHandler:
        """What each event goes through, once connected: `kv` is the dedupe bucket (None only when a
        sent log was passed in, or on a dry run), the others the live consumer's and server's limits."""
        w = self.settings.worker
        return EventHandler(
            js=js,
            notifier=self.notifier(kv),
            policy=self.settlement(max_deliver, max_payload),
            clock=lambda: datetime.fromtimestamp(self._clock(), self.rules.timezone),
            max_event_bytes=w.max_event_bytes,
            keep_alive_seconds=w.ack_wait_seconds / 3,
            metrics=self.metrics,
        )

    def notifier(self, kv: KeyValue | None) -> Notifier:
        shared = deliverer(
            self.settings,
            self.transport,
            self.sent_log(kv),
            dry_run=self.dry_run,
            concurrency=self.settings.worker.concurrency,
            dry_run_line=self.dry_run_lines.take,
            clock=self._clock,
        )
        return Notifier(self.rules, dataclasses.replace(shared, send_ceiling=self.send_ceiling))

    def sent_log(self, kv: KeyValue | None) -> SentLog:
        """A dry run's records nothing and reads nothing; a real run's is the one passed in, else the KV
        bucket's, claiming as this worker."""
        if self.dry_run:
            return UnrecordedSentLog()
        if self._sent_log is not None:
            return self._sent_log
        if kv is None:
            raise TypeError("the worker's real sent log is its KV bucket: pass the bucket or a sent log")
        return nats_sent_log(kv, self.owner)

    def reconcile_loop(self, kv: KeyValue | RecordStore) -> ReconcileLoop | None:
        """The reconciler on its timer over the sent log's bucket (`kv`, or a record store in its place),
        or None on a dry run, which has nothing to reconcile. Its SENS reader is built here, after the
        transport checked the same keys; the caller closes it (`loop.reconciler.messages.close`).

        A not-found unknown is never released here, whatever `reconcile.resend_not_found` says: the worker
        settled its event when the send became unknown, and nothing would plan it again, so a release
        would drop the message unreported. It stays unknown with a note for a person, and is expired
        once its rule's window has closed."""
        if self.dry_run:
            return None
        records = NatsKvRecords(kv) if isinstance(kv, KeyValue) else kv
        settings = dataclasses.replace(reconcile_settings(self.settings), resend_not_found=False)
        reconciler = Reconciler(
            messages=given(self._sent_messages, lambda: sent_messages(self.settings, now=self._clock)),
            sent_log=StoreSentLog(records, self.owner),
            open_claims=ScanOpenClaims(records),
            settings=settings,
            clock=self._clock,
        )
        interval = self.settings.reconcile.interval_seconds
        return ReconcileLoop(reconciler, self.metrics, interval, FIRST_RECONCILE_SECONDS)

    def settlement(self, max_deliver: int | None, max_payload: int) -> SettlementPolicy:
        w = self.settings.worker
        return SettlementPolicy(
            sent_subject=w.sent_subject,
            failed_subject=w.failed_subject,
            dlq_subject=w.dlq_subject,
            nak_delay=w.nak_delay_seconds,
            max_deliver=max_deliver,
            max_payload=max_payload,
        )


@contextlib.asynccontextmanager
async def operators_sent_log(settings: Settings) -> AsyncIterator[StoreSentLog]:
    """The KV bucket as `make claims` reads it, on a connection of its own closed after."""
    nc = await connect_nats(settings, "make-claims", reconnect=False)
    try:
        yield nats_sent_log(await nc.jetstream().key_value(settings.worker.dedupe_bucket), OPERATOR)
    finally:
        await nc.close()


async def connect_nats(
    settings: Settings,
    name: str,
    *,
    stop: asyncio.Event | None = None,
    on_closed: Callable[[], Awaitable[None]] | None = None,
    reconnect: bool = True,
) -> Client:
    """How the worker and `make claims` both reach NATS (nats_connection.connect, within
    worker.connect_seconds)."""
    return await connect(
        nats_connection(settings),
        name=name,
        within=settings.worker.connect_seconds,
        stop=stop,
        on_closed=on_closed,
        reconnect=reconnect,
    )


def nats_connection(settings: Settings) -> dict[str, Any]:
    """nats.connect's servers and credentials (a comma-separated NATS_URL is a cluster's seed list, one
    URL each)."""
    return nats_servers(settings.worker.nats_url, nats_credentials(settings.worker, "worker"))
