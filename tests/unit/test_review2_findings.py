"""Second review of #36 (the Lambda side): each finding as a failing test, over the real composition root
(tests/support/roots.py lambda_run) and the fakes. Each test states what should hold; it fails today."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from naver_sms.adapters.sent_log import Fields, StoreSentLog
from naver_sms.application.errors import LoginFailed, OddAnswer
from naver_sms.application.ports import ClaimState, SentMessage
from naver_sms.application.run_metrics import RunMetrics
from naver_sms.bootstrap import lambda_image
from naver_sms.entrypoints import lambda_app
from tests.support.fakes import (
    FakeAuth,
    FakeBookingSource,
    FakeClock,
    FakeSentLog,
    FakeSentMessages,
    MemoryOpenClaims,
    MemoryRecords,
)
from tests.support.roots import lambda_run, unit_settings
from tests.unit.test_run_reconcile import FAILED, NO_HANDSET_DELAY, NOW, RULES, Shop, planned, record

RESERVE = lambda_image.deadline(unit_settings(), lambda: 0.0).reserve_seconds


@dataclass
class Alerts:
    texts: list[str] = field(default_factory=list)
    fail: bool = False

    def alert(self, text: str) -> None:
        if self.fail:
            raise RuntimeError("Slack answered HTTP 500")
        self.texts.append(text)


def counting_down(spare: float) -> Any:
    """A Lambda context's clock: `spare` seconds beyond the deadline's reserve, going down in real time."""
    started = time.monotonic()
    return lambda: RESERVE + spare - (time.monotonic() - started)


class PagingForever(FakeSentMessages):
    """A busy (or slow) SENS: one unknown's list takes longer than the run can spare, every run alike."""

    async def in_window(self, start: datetime, end: datetime) -> list[SentMessage]:
        self.reads.append("window")
        await asyncio.sleep(30)
        return []


# 1. The pass's hard cut is ALL of the spare time, not its share: one record that reads slowly (a busy
#    SENS's many pages of a 30-day list, every run alike, since a cut-off record is first again next
#    run) leaves every run with nothing but the reserve, so every run defers every send, run after run.
def test_a_slow_record_does_not_starve_every_runs_sends() -> None:
    shop = Shop(records=[record(1), record(2)])
    shop.unknown(planned(1))
    slow = PagingForever(FakeClock(time.time()))
    for _ in range(2):  # two runs, ten minutes apart: the same record is first again, as slow
        _, summary = shop.run(sent_messages=slow, time_left=counting_down(2.0))
        assert summary.as_result()["reconcile"]["status"] == "failed"
    # README: "in the Lambda no more than a quarter of the time its run can spare". The other three
    # quarters are the sends': bk-2 (nothing to do with the slow record) must go out.
    assert [m.booking_id for m in shop.transport.sent] == ["bk-2"], "every run deferred bk-2"


# 1b. After the hard cut only the reserve is left (one worst-case send + 30 s), yet the run still starts
#     Chrome, logs in to Naver and reads every booking page, none of which the deadline bounds, to send
#     nothing: a Selenium login (page load 30 s + login 20 s) plus a booking fetch (10 s x 4 attempts)
#     outlasts the 58 s reserve, and the Lambda is killed with no result, alert, or metric; the
#     pass's releases/expiries/handset failures it moved are then reported by nobody, ever.
def test_a_run_cut_to_its_reserve_by_the_pass_does_not_log_in_to_send_nothing() -> None:
    shop = Shop(records=[record(2)])
    shop.unknown(planned(1))
    auth = FakeAuth()
    slow = PagingForever(FakeClock(time.time()))
    _, summary = shop.run(sent_messages=slow, time_left=counting_down(0.5), auth=auth)
    assert summary.deferred == 1  # nothing could be sent: the reserve was all that was left
    assert auth.logins == 0, "logged in (a browser, 50 s worst case) inside the reserve, to send nothing"


class ThreadedRecords(MemoryRecords):
    """MemoryRecords written as DynamoRecords writes (adapters/dynamo_sent_log.py: asyncio.to_thread of a
    blocking boto3 call): a cancelled await does not stop the write, which lands a moment later."""

    def __init__(self, write_seconds: float) -> None:
        super().__init__()
        self.write_seconds = write_seconds

    def _blocking_replace(self, key: str, fields: Fields, revision: str) -> str:
        time.sleep(self.write_seconds)
        self._holding(key, revision)
        return self._stored(key, fields)

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        return await asyncio.to_thread(self._blocking_replace, key, fields, revision)


class ThreadedSentLog(FakeSentLog):
    def __init__(self) -> None:
        self.records = ThreadedRecords(write_seconds=0.0)
        StoreSentLog.__init__(self, self.records, "test:1")


# 2. A hard cut (asyncio.timeout) during a DynamoDB write cancels the await, not the write: the record
#    is expired in the table, the pass's result does not list it, so nobody alerts it, and no later pass
#    will (an expired record is not open). "Expired, never sent" is lost without a report.
def test_a_write_the_hard_cut_interrupts_is_still_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    alerts = Alerts()
    monkeypatch.setattr(lambda_image, "alerter", lambda settings: alerts)
    log = ThreadedSentLog()
    shop = Shop(records=[], log=log)
    late = dataclasses.replace(planned(1), send_until=NOW - timedelta(hours=1))  # its window closed
    shop.unknown(late)
    log.records.write_seconds = 1.5  # the expiry's write: slower than the time the run can spare
    _, summary = shop.run(time_left=counting_down(0.5))
    lambda_app._finished(unit_settings(), summary)
    assert log.state(late) is ClaimState.EXPIRED  # the write landed after the cut
    assert any("bk-1" in text for text in alerts.texts), "expired in the table, reported by nobody"


# 3. The pass releases an unknown (deletes its claim) before the run has logged in. When the login then
#    fails (or the guard defers it, or Naver answers 429), the run sends nothing and its alert is about
#    the login only; the release is not alerted. Runs after it are deferred by the login backoff while
#    the rule's window closes: the SMS is never sent, and the sent log holds no record of it at all.
def test_a_release_the_run_cannot_follow_up_is_not_lost_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    alerts = Alerts()
    monkeypatch.setattr(lambda_image, "alerter", lambda settings: alerts)
    shop = Shop()  # bk-1 is still planned, its window open for hours
    shop.unknown(planned(1))
    settings = unit_settings()
    scheduled = lambda_run(
        shop.transport,
        shop.log,
        rules=RULES,
        bookings=FakeBookingSource(shop.records),
        open_claims=MemoryOpenClaims(shop.log.records),
        sent_messages=shop.sens,
        auth=FakeAuth(fail=True),
    )
    with pytest.raises(LoginFailed) as failed:
        asyncio.run(scheduled(NOW))
    result = lambda_app._failure(settings, failed.value, scheduled)
    assert result["reconcile"]["counts"]["released"] == 1 and shop.transport.sent == []
    kept = shop.log.held(planned(1)) is not None
    alerted = any("bk-1" in text for text in alerts.texts)
    assert kept or alerted, "released before a login that failed: no record, no alert, never sent"


# 4. Slack failing when the pass's only report goes out loses it for good: the record was moved
#    (handset FAILED / EXPIRED), no later pass lists it, and no alarm reads HandsetFailed or
#    ReconcileExpired (infra/template.yaml alarms only Errors, RunFailed, Unknown, LoginFailed, Held).
def test_a_handset_failure_alert_that_slack_drops_is_said_again(monkeypatch: pytest.MonkeyPatch) -> None:
    alerts = Alerts(fail=True)
    monkeypatch.setattr(lambda_image, "alerter", lambda settings: alerts)
    shop = Shop(records=[])
    shop.sent(planned(1), FAILED)
    _, summary = shop.run(settings=NO_HANDSET_DELAY)
    lambda_app._finished(NO_HANDSET_DELAY, summary)  # Slack down: the alert is dropped (logged only)
    alerts.fail = False
    _, again = shop.run(settings=NO_HANDSET_DELAY)
    lambda_app._finished(NO_HANDSET_DELAY, again)
    assert any("bk-1" in text for text in alerts.texts), "the handset failure was never alerted"


# 5. README/run_metrics: "A pass that fails (SENS or the table unreachable) ... the ReconcileFailed
#    metric counts it". SENS that cannot be read at all (down, or answering without `hasMore`, which
#    read_page now refuses: every list in production, if SENS's real answer lacks it) is per-record
#    still_unknown/errors, the pass "ok", ReconcileFailed 0: a reconciler that can do nothing at all,
#    every run, forever, flips no metric meant for alarming and sends no alert.
def test_a_sens_list_that_cannot_be_read_at_all_counts_as_reconcile_failed() -> None:
    shop = Shop(records=[])
    shop.unknown(planned(1))
    shop.unknown(planned(2))
    shop.sens.fail = OddAnswer("SENS's message list, page 0: no 'hasMore': the answer does not say ...")
    run, summary = shop.run()
    metrics = RunMetrics.of(run.done, run.tally, summary, 1.0, summary.reconciled)
    assert summary.as_result()["reconcile"]["counts"]["still_unknown"] == 2
    assert metrics.reconcile_failed == 1, (
        "every SENS read refused, yet the pass is 'ok' and ReconcileFailed 0"
    )


# 6. A SENS that is down costs every run up to the whole budget: each record's read fails on its own
#    (8 s timeout each, no retry, no short-cut), so with 8 unknowns/sends open the pass asks SENS 8 times
#    and spends ~64 s of every run, every 10 minutes, for as long as SENS is down.
def test_a_sens_that_is_down_is_asked_once_a_pass_not_once_a_record() -> None:
    from naver_sms.application.errors import SentMessagesUnavailable

    shop = Shop(records=[])
    for n in range(1, 9):
        shop.unknown(planned(n))
    shop.sens.fail = SentMessagesUnavailable("SENS did not answer within 8 s")
    shop.run()
    assert len(shop.sens.reads) == 1, f"{len(shop.sens.reads)} reads of a SENS that is down, in one pass"
