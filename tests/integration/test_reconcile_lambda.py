"""Issue #36 end to end on the Lambda's side: its composition root with every real adapter but Naver's
(the SENS client and SENS's read side over HTTP against the fake SENS, moto's DynamoDB as the sent
log), run as an invocation runs it, three times; and `make reconcile`'s entry point on the same table."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from naver_sms.application.scheduled_run import ScheduledRun
from naver_sms.bootstrap import lambda_image
from naver_sms.domain.rules import rules_from_mapping
from naver_sms.entrypoints import claims, lambda_app
from naver_sms.entrypoints import reconcile as make_reconcile
from naver_sms.settings import Settings
from tests.support.bookings import THANKS_RULE
from tests.support.fake_sens import FakeSens
from tests.support.fake_sens_records import Fault
from tests.support.fakes import FakeAuth, FakeBookingSource, MemoryRecords
from tests.support.moto import create_sent_log_table

RULES = rules_from_mapping({"rules": [THANKS_RULE]})
LEASE, MARGIN = 3.0, 1.0  # SENS lists whole seconds: a margin of one holds a send's second
ENV = {
    "NAVER_USERNAME": "owner",
    "SMS_DRY_RUN": "false",
    "SENS_TIMEOUT_SECONDS": "1",
    "SENS_MAX_ATTEMPTS": "1",
    "CLAIM_LEASE_SECONDS": str(LEASE),
    "RECONCILE_SETTLE_SECONDS": "0",
    "RECONCILE_MARGIN_SECONDS": str(MARGIN),
}
PHONES = {"bk-1": "01055550001", "bk-2": "01055550002"}


def record(n: int) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(hours=2)  # its thank-you's window is open 22 h more
    return {
        "id": f"bk-{n}",
        "customer_name": f"손님{n}",
        "phone": PHONES[f"bk-{n}"],
        "service": "커트",
        "start": start.isoformat(),
        "status": "completed",
    }


@pytest.fixture
def settings(aws: str, fake_sens: FakeSens, monkeypatch: pytest.MonkeyPatch) -> Settings:
    create_sent_log_table()
    for name, value in {**ENV, **fake_sens.env()}.items():
        monkeypatch.setenv(name, value)
    return Settings.load()


def invocation(settings: Settings, n: int) -> tuple[dict[str, Any], ScheduledRun]:
    """One scheduled invocation as the handler makes it, but Naver: run, result and alerts, metrics,
    the unknowns recorded as reported."""
    run = lambda_image.scheduled_run(
        settings,
        requested_dry_run=False,
        request_id=f"run-{n}",
        time_left=lambda: 300.0,
        auth=FakeAuth(),
        bookings=FakeBookingSource([record(1), record(2)]),
        warm=lambda_image.Warm(),
        guard_store=MemoryRecords(),
        rules=RULES,
    )
    summary = lambda_image.run_once(run, allow_sends=None)
    result = lambda_app._finished(settings, summary)
    lambda_app._metrics(run, summary, 1.0)
    lambda_app._reported(run)
    return result, run


def test_a_lost_answer_is_resolved_sent_and_a_send_sens_never_accepted_is_sent_once(
    settings: Settings, fake_sens: FakeSens, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_sens.state.fail_next = 1  # bk-1: a 503, so it may have gone out; SENS never accepted it
    fake_sens.state.drop_next = 1  # bk-2: accepted, then the connection dropped before its answer
    first, _ = invocation(settings, 1)
    assert sorted((f["booking_id"], f["outcome"]) for f in first["failed"]) == [
        ("bk-1", "unknown"),
        ("bk-2", "unknown"),
    ]
    assert first["reconcile"]["counts"]["released"] == 0
    time.sleep(LEASE + 2 * MARGIN + 0.5)  # both windows settled (settle time 0)

    second, _ = invocation(settings, 2)
    assert second["reconcile"]["status"] == "ok"
    counts = second["reconcile"]["counts"]
    assert (counts["resolved_sent"], counts["released"], counts["errors"]) == (1, 1, 0)
    assert (second["status"], second["sent"], second["skipped_duplicates"]) == ("ok", 1, 1)

    third, _ = invocation(settings, 3)
    assert (third["sent"], third["skipped_duplicates"], third["failed"]) == (0, 2, [])
    # Each SMS reached SENS's accepted list exactly once; the 503 was the only other request.
    assert sorted(m["messages"][0]["to"] for m in fake_sens.state.sent) == sorted(PHONES.values())
    assert fake_sens.state.received == 3
    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert [(m["ReconcileResolved"], m["ReconcileReleased"]) for m in metrics] == [(0, 0), (1, 1), (0, 0)]
    assert not any(phone in out for phone in PHONES.values())


def test_make_reconcile_settles_the_table_and_make_claims_lists_a_handset_failure(
    settings: Settings,
    fake_sens: FakeSens,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_sens.state.records.failing_phones.add(PHONES["bk-1"])  # a number the carrier cannot reach
    fake_sens.state.drop_next = 1  # bk-1 accepted, its answer lost: unknown
    invocation(settings, 1)
    time.sleep(LEASE + 2 * MARGIN + 0.5)
    capsys.readouterr()
    assert make_reconcile.main(["--store", "dynamodb"]) == 0
    done = capsys.readouterr()
    lines = [json.loads(line) for line in done.out.splitlines()]
    assert [(line["outcome"], line["booking_id"]) for line in lines] == [("resolved_sent", "bk-1")]
    assert "reconciled the dynamodb sent log with SENS: 1 resolved_sent" in done.err
    monkeypatch.setenv("RECONCILE_HANDSET_DELAY_SECONDS", "0")
    assert make_reconcile.main(["--store", "dynamodb"]) == 0
    (failed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert failed["outcome"] == "handset_failed" and failed["phone"] == "010****0001"
    assert claims.main(["--store", "dynamodb"]) == 0
    listed = capsys.readouterr()
    (claim,) = [json.loads(line) for line in listed.out.splitlines()]
    assert (claim["booking_id"], claim["status"], claim["status_name"]) == ("bk-1", "failed", "fail")
    assert PHONES["bk-1"] not in listed.out + done.out


def test_make_reconcile_says_what_failed_when_sens_cannot_be_read(
    settings: Settings,
    fake_sens: FakeSens,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENT_LOG_TABLE", "no-such-table")
    assert make_reconcile.main(["--store", "dynamodb"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reconcile the dynamodb sent log with SENS: SentLogError")


def test_a_sens_list_answering_200_with_junk_resends_nothing(settings: Settings, fake_sens: FakeSens) -> None:
    fake_sens.state.fail_next = 1  # bk-1: a 503, unknown
    invocation(settings, 1)
    time.sleep(LEASE + 2 * MARGIN + 0.5)
    fake_sens.state.records.fault = Fault.NOT_SENS  # 200 with JSON that is not SENS's list
    second, _ = invocation(settings, 2)
    # Not one answer of SENS could be read: the pass failed (ReconcileFailed, alarmed), the run did not.
    assert second["reconcile"]["status"] == "failed"
    assert second["reconcile"]["reason"].startswith("SENS could not be read")
    assert second["reconcile"]["counts"]["still_unknown"] == 1
    assert (second["status"], second["sent"], second["unresolved"]) == ("ok", 0, 1)
    assert fake_sens.state.received == 2  # bk-1 never sent again on a list nobody can trust
