"""The Lambda's EMF metrics are RunMetrics' fields: each one metric, its name and unit the field's."""

from __future__ import annotations

import dataclasses

from naver_sms.adapters.emf import NAMESPACE, emf_record
from naver_sms.application.breaker import Held
from naver_sms.application.delivery import FAILURES, Delivery, Outcome
from naver_sms.application.run_metrics import Metric, RunMetrics, Unit
from naver_sms.application.scheduled_run import LoginTally, RunSummary
from naver_sms.application.session import Login

FIELDS = dataclasses.fields(RunMetrics)
# CloudWatch's units (the EMF specification's Unit list), the time and count ones a run could use.
CLOUDWATCH_UNITS = {"Seconds", "Microseconds", "Milliseconds", "Count", "Count/Second", "None"}
ONE_OF_EACH = tuple(Delivery(o, "r", f"bk-{o.value}", f"k-{o.value}") for o in Outcome)
TALLY = LoginTally(logins=2, failed=1, deferred=3)


def metric(name: str) -> Metric:
    (found,) = [f.metadata["metric"] for f in FIELDS if f.name == name]
    return found


def test_each_field_is_one_metric_in_the_emf_record_with_its_unit() -> None:
    values = RunMetrics(**{f.name: n for n, f in enumerate(FIELDS, start=1)})
    record = emf_record(values.metrics(), {"FunctionName": "f"}, timestamp_ms=0)
    (directive,) = record["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == NAMESPACE
    declared = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    for f in FIELDS:
        named: Metric = f.metadata["metric"]
        assert isinstance(named.unit, Unit) and named.unit.value in CLOUDWATCH_UNITS
        assert (record[named.name], declared[named.name]) == (getattr(values, f.name), named.unit.value)
    assert len(declared) == len(FIELDS), "two fields share a metric name"


def test_a_finished_run_counts_its_outcomes_and_logins() -> None:
    held = Held(new=(), limit=30, allow_sends=None)
    summary = RunSummary(len(ONE_OF_EACH), ONE_OF_EACH, False, Login.FRESH, held=held, deferred=4)
    counts = RunMetrics.of([], TALLY, summary, seconds=1.5)
    assert counts == RunMetrics(
        run_failed=0,
        duration_ms=1500.0,
        logins=TALLY.logins,
        login_failed=TALLY.failed,
        login_deferred=TALLY.deferred,
        held=1,
        sent=1,
        duplicates=1,
        unknown=1,
        invalid=1,
        failed=len(FAILURES),
        deferred=summary.deferred,
        **{f.name: 0 for f in FIELDS if f.name.startswith(("reconcile_", "handset_", "events_"))},  # no pass
    )
    assert metric("duration_ms") == Metric("RunDuration", Unit.MILLISECONDS)


def test_a_failed_run_counts_what_it_delivered_before_its_error() -> None:
    counts = RunMetrics.of(ONE_OF_EACH, TALLY, None, seconds=0.25)
    assert (counts.run_failed, counts.held, counts.deferred, counts.duration_ms) == (1, 0, 0, 250.0)
    assert (counts.sent, counts.unknown, counts.failed) == (1, 1, len(FAILURES))
    assert counts.login_failed == TALLY.failed


def test_a_run_that_never_started_is_one_failed_run_and_nothing_else() -> None:
    counts = RunMetrics.of([], LoginTally(), None, seconds=0)
    assert {f.name for f in FIELDS if getattr(counts, f.name)} == {"run_failed"}
