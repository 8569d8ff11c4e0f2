"""The worker's metrics in Prometheus' text format (prometheus-client), served on the health port at
/metrics: what an operator alarms on (unknown outcomes, dead letters, a backlog, a lost connection, sends
waiting for the per-minute ceiling)."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from naver_sms.application.ports import SmsTransport
from naver_sms.domain.messages import PlannedMessage

# A SENS answer takes tens of milliseconds; the top buckets are the client's deadline and its retries.
SEND_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DEAD_LETTERED = "dead_lettered"
# A reconcile pass's counts (application/reconcile_result.ReconcileResult.counts) that are counted: what
# it moved or found, not what it left for later (waiting, changed, left: in its log line only).
RECONCILED = (
    "resolved_sent",
    "released",
    "expired",
    "still_unknown",
    "delivered",
    "handset_failed",
    "handset_given_up",
    "errors",
)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.outcomes = Counter(
            "naver_sms_worker_outcomes",
            "Deliveries by outcome (sent, duplicate, unknown, refused, retry …), and events dead-lettered",
            ["outcome"],
            registry=self.registry,
        )
        self._outcome_children: dict[str, Counter] = {}
        self.send_seconds = Histogram(
            "naver_sms_worker_send_seconds",
            "Seconds one SMS send took, SENS's retries of unsent attempts included",
            buckets=SEND_BUCKETS,
            registry=self.registry,
        )
        self.sends_in_flight = Gauge(
            "naver_sms_worker_sends_in_flight", "SMS sends waiting on SENS now", registry=self.registry
        )
        self.pending = Gauge(
            "naver_sms_worker_consumer_pending",
            "Events in the stream the durable consumer has not delivered yet (refreshed every few seconds)",
            registry=self.registry,
        )
        self.connected = Gauge(
            "naver_sms_worker_nats_connected", "1 while connected to NATS, else 0", registry=self.registry
        )
        self.sends_deferred = Counter(
            "naver_sms_worker_sends_deferred",
            "Real sends that waited for the per-minute send ceiling (each once; none dropped)",
            registry=self.registry,
        )
        self.sends_waiting = Gauge(
            "naver_sms_worker_sends_waiting",
            "Real sends waiting for the per-minute send ceiling now",
            registry=self.registry,
        )

        self.reconciled = Counter(
            "naver_sms_worker_reconciled",
            "Records the reconciler settled or looked at, by outcome (a record still unknown is counted "
            "at each pass it stays so)",
            ["outcome"],
            registry=self.registry,
        )
        for name in RECONCILED:
            self.reconciled.labels(name)  # each outcome shown from the start, at 0
        self.reconcile_passes = Counter(
            "naver_sms_worker_reconcile_passes",
            "Reconcile passes by result: done, cut (at its hard cap), failed (nothing done)",
            ["result"],
            registry=self.registry,
        )
        self.reconcile_last_pass = Gauge(
            "naver_sms_worker_reconcile_last_pass_timestamp_seconds",
            "When the last reconcile pass that ran ended (seconds since the epoch; 0: none yet)",
            registry=self.registry,
        )
        self.reconcile_pass_seconds = Gauge(
            "naver_sms_worker_reconcile_pass_seconds",
            "How long the last reconcile pass that ran took",
            registry=self.registry,
        )

    def reconcile_pass(self, result: str) -> None:
        self.reconcile_passes.labels(result).inc()

    def reconciled_pass(self, counts: dict[str, int], seconds: float, *, cut: bool) -> None:
        for name in RECONCILED:
            if counts.get(name):
                self.reconciled.labels(name).inc(counts[name])
        self.reconcile_pass("cut" if cut else "done")
        self.reconcile_last_pass.set(time.time())
        self.reconcile_pass_seconds.set(seconds)

    def outcome(self, name: str) -> None:
        # The labelled child kept per name: `labels()` checks and looks it up under a lock on every call.
        child = self._outcome_children.get(name)
        if child is None:
            child = self._outcome_children[name] = self.outcomes.labels(name)
        child.inc()

    def watch_connection(self, is_connected: Callable[[], bool]) -> None:
        self.connected.set_function(lambda: 1.0 if is_connected() else 0.0)

    def watch_ceiling(self, waiting: Callable[[], int]) -> None:
        self.sends_waiting.set_function(lambda: float(waiting()))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MeasuredTransport:
    """Any SmsTransport, its sends timed and counted while in flight."""

    def __init__(self, inner: SmsTransport, metrics: WorkerMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def send(self, message: PlannedMessage) -> str:
        started = time.monotonic()
        self._metrics.sends_in_flight.inc()
        try:
            return await self._inner.send(message)
        finally:
            self._metrics.sends_in_flight.dec()
            self._metrics.send_seconds.observe(time.monotonic() - started)

    async def close(self) -> None:
        await self._inner.close()
