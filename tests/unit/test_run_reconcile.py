"""The Lambda's scheduled run reconciles the sent log once it has read its bookings, before it plans
(issue #36): through its real composition root (tests/support/roots.py) over fakes, SENS's read side a
list (FakeSentMessages)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from naver_sms.adapters.sent_log import Fields, StoreSentLog
from naver_sms.application.errors import LoginFailed, OddAnswer, SentLogError, SentMessagesUnavailable
from naver_sms.application.ports import ClaimState, HandsetResult, Processing, SentMessage
from naver_sms.application.reconcile_pass import DRY_RUN
from naver_sms.application.run_metrics import RunMetrics
from naver_sms.application.scheduled_run import RunSummary, ScheduledRun
from naver_sms.bootstrap import lambda_image
from naver_sms.domain.booking import booking_from_mapping
from naver_sms.domain.messages import PlannedMessage
from naver_sms.domain.rules import rules_from_mapping
from naver_sms.entrypoints import lambda_app
from tests.support.bookings import THANKS_RULE
from tests.support.fakes import (
    FakeAuth,
    FakeBookingSource,
    FakeClock,
    FakeSentLog,
    FakeSentMessages,
    FakeTransport,
    MemoryOpenClaims,
    MemoryRecords,
)
from tests.support.roots import lambda_run, unit_settings

# The reconciler reads the wall clock against claims the sent log stamps with it: the runs are now.
NOW = datetime.fromtimestamp(int(time.time()), UTC)
RULES = rules_from_mapping({"rules": [THANKS_RULE]})
PHONE = "010-5555-0001"


def record(n: int) -> dict[str, Any]:
    return {
        "id": f"bk-{n}",
        "customer_name": f"손님{n}",
        "phone": f"010-5555-{n:04d}",
        "service": "커트",
        "start": (NOW - timedelta(hours=2)).isoformat(),
        "status": "completed",
    }


def planned(n: int) -> PlannedMessage:
    return RULES.rules[0].render(booking_from_mapping(record(n)), RULES.timezone)


@dataclass
class Shop:
    """One shop's bookings, sent log and SENS (both sides) across runs."""

    records: list[object] = field(default_factory=lambda: [record(1)])
    transport: FakeTransport = field(default_factory=FakeTransport)
    log: FakeSentLog = field(default_factory=FakeSentLog)
    sens: FakeSentMessages = field(default_factory=lambda: FakeSentMessages(FakeClock(time.time())))

    def run(self, *, dry_run: bool = False, **overrides: Any) -> tuple[ScheduledRun, RunSummary]:
        adapters = {
            "bookings": FakeBookingSource(self.records),
            "open_claims": MemoryOpenClaims(self.log.records),
            "sent_messages": self.sens,
            **overrides,
        }
        scheduled = lambda_run(self.transport, self.log, rules=RULES, dry_run=dry_run, **adapters)
        return scheduled, asyncio.run(scheduled(NOW))

    def unknown(self, message: PlannedMessage, ago: float = 7_200) -> None:
        """A send whose answer was lost `ago` seconds ago (settled by now), marked unknown and reported."""

        async def plant() -> None:
            claim, _ = await self.log.claim(message, time.time() - ago)
            assert await self.log.mark_unknown(message, claim, "SENS answered HTTP 503")
            await self.log.reported(message.idempotency_key)

        asyncio.run(plant())

    def sent(self, message: PlannedMessage, result: HandsetResult) -> SentMessage:
        """A send SENS accepted and the delivery confirmed, its handset result in."""
        accepted = self.sens.accept(
            message.phone, message.text, time.time(), Processing.COMPLETED, result=result
        )

        async def plant() -> None:
            await self.log.claim(message, time.time())
            await self.log.confirm(message, accepted.request_id)

        asyncio.run(plant())
        return accepted


FAILED = HandsetResult("3018", False, "wrong number", "SKT")
NO_HANDSET_DELAY = unit_settings(RECONCILE_HANDSET_DELAY_SECONDS="0")


def test_a_message_the_pass_releases_is_sent_by_the_same_run_once() -> None:
    shop = Shop()
    shop.unknown(planned(1))  # SENS never accepted it: its list is empty
    _, summary = shop.run()
    result = summary.as_result()
    assert result["reconcile"]["status"] == "ok"
    assert result["reconcile"]["counts"]["released"] == 1
    assert [m.booking_id for m in shop.transport.sent] == ["bk-1"]
    assert result["sent"] == 1 and shop.log.state(planned(1)) is ClaimState.SENT
    assert len(shop.sens.reads) == 1  # the one window read, before the send
    _, again = shop.run()
    assert again.as_result()["sent"] == 0 and len(shop.transport.sent) == 1


def test_a_message_the_pass_finds_in_sens_is_sent_and_not_sent_again() -> None:
    shop = Shop()
    shop.unknown(planned(1))
    held = shop.log.held(planned(1))
    assert held is not None
    shop.sens.accept(planned(1).phone, planned(1).text, held.at + 2, Processing.PROCESSING)
    _, summary = shop.run()
    result = summary.as_result()
    assert result["reconcile"]["counts"]["resolved_sent"] == 1
    assert (result["sent"], result["skipped_duplicates"], shop.transport.sent) == (0, 1, [])


def test_the_pass_runs_once_the_bookings_are_read_and_before_the_run_plans() -> None:
    shop, order = Shop(), []

    class Watched(FakeBookingSource):
        async def fetch(self, cookies: Any) -> Any:
            order.append("bookings")
            return await super().fetch(cookies)

    class Listing(MemoryOpenClaims):
        async def to_reconcile(self) -> Any:
            order.append("reconcile")
            return await super().to_reconcile()

    shop.run(bookings=Watched(shop.records), open_claims=Listing(shop.log.records))
    assert order == ["bookings", "reconcile"]


class BrokenListing(MemoryOpenClaims):
    async def to_reconcile(self) -> Any:
        raise SentLogError("DynamoDB query on naver-sms-sent: throttled")


def test_a_pass_that_fails_never_stops_the_run() -> None:
    shop = Shop()
    _, summary = shop.run(open_claims=BrokenListing(shop.log.records))
    result = summary.as_result()
    assert result["reconcile"] == {
        "status": "failed",
        "reason": "SentLogError: DynamoDB query on naver-sms-sent: throttled",
    }
    assert (result["status"], result["sent"]) == ("ok", 1)


def test_sens_down_leaves_the_unknown_unknown_and_the_run_goes_on() -> None:
    shop = Shop(records=[record(1), record(2)])
    shop.unknown(planned(1))
    shop.sens.fail = SentMessagesUnavailable("SENS answered HTTP 503")
    _, summary = shop.run()
    result = summary.as_result()
    assert result["reconcile"]["counts"]["still_unknown"] == 1
    assert [m.booking_id for m in shop.transport.sent] == ["bk-2"]  # bk-1 is never resent blind
    assert shop.log.state(planned(1)) is ClaimState.UNKNOWN


def test_a_dry_run_does_not_reconcile_and_says_so() -> None:
    shop = Shop()
    shop.unknown(planned(1))
    _, summary = shop.run(dry_run=True)
    assert summary.as_result()["reconcile"] == {"status": "skipped", "reason": DRY_RUN}
    assert shop.sens.reads == [] and shop.log.state(planned(1)) is ClaimState.UNKNOWN


def test_a_slow_sens_is_cut_off_at_the_time_the_run_can_spare_and_the_run_goes_on() -> None:
    shop = Shop(records=[record(1), record(2)])
    shop.unknown(planned(1))

    reserve = lambda_image.deadline(unit_settings(), lambda: 0.0).reserve_seconds
    started = time.monotonic()
    _, summary = shop.run(sent_messages=WaitingSens(FakeClock(time.time())), time_left=lambda: reserve + 0.5)
    assert time.monotonic() - started < 5
    reconcile = summary.as_result()["reconcile"]
    assert reconcile["status"] == "failed" and reconcile["reason"].startswith("cut off")
    assert [m.booking_id for m in shop.transport.sent] == ["bk-2"]
    assert shop.log.state(planned(1)) is ClaimState.UNKNOWN


def test_the_budget_is_a_share_of_the_spare_time_and_never_more_than_the_settings() -> None:
    shop = Shop()
    for n in (1, 2, 3):
        shop.unknown(planned(n))
    clock = FakeClock(time.time())
    shop.sens = FakeSentMessages(clock, slow_seconds=10.0)  # each read takes 10 s of the pass's clock
    reserve = lambda_image.deadline(unit_settings(), lambda: 0.0).reserve_seconds
    _, summary = shop.run(clock=clock, time_left=lambda: reserve + 40)  # a quarter of 40 s: 10 s
    counts = summary.as_result()["reconcile"]["counts"]
    assert (counts["released"] + counts["expired"], counts["left"]) == (1, 2)


def test_a_handset_failure_is_alerted_once_counted_and_never_shows_the_phone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alerts = Alerts()
    monkeypatch.setattr(lambda_image, "alerter", lambda settings: alerts)
    shop = Shop(records=[])
    shop.sent(planned(1), FAILED)
    run, summary = shop.run(settings=NO_HANDSET_DELAY)
    result = lambda_app._finished(NO_HANDSET_DELAY, summary)
    lambda_app._metrics(run, summary, 1.0)
    (failure,) = result["reconcile"]["handset_failed"]
    assert failure == {
        "idempotency_key": planned(1).idempotency_key,
        "rule": "thanks",
        "booking_id": "bk-1",
        "phone": "010****0001",
        "status_code": "3018",
        "status_name": "fail",
    }
    (text,) = alerts.texts
    assert "not delivered to the handset: thanks booking bk-1 to 010****0001" in text
    assert shop.log.state(planned(1)) is ClaimState.FAILED
    # The next run's pass finds nothing more to say: the failure was reported once.
    run_again, again = shop.run(settings=NO_HANDSET_DELAY)
    lambda_app._finished(NO_HANDSET_DELAY, again)
    lambda_app._metrics(run_again, again, 1.0)
    assert len(alerts.texts) == 1
    out = capsys.readouterr().out
    first, second = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    units = {m["Name"]: m["Unit"] for m in first["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["HandsetFailed"] == units["ReconcileFailed"] == units["ReconcileReleased"] == "Count"
    assert (first["HandsetFailed"], second["HandsetFailed"], first["ReconcileFailed"]) == (1, 0, 0)
    said = out + caplog.text + json.dumps(result) + "".join(alerts.texts)
    assert "01055550001" not in said.replace("-", "") and PHONE not in said


def test_an_expired_message_is_alerted_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    alerts = Alerts()
    monkeypatch.setattr(lambda_image, "alerter", lambda settings: alerts)
    shop = Shop(records=[])  # no longer planned, and its window closed an hour ago
    late = PlannedMessage(
        "thanks", "bk-9", "01055550009", "감사", "9" * 40, send_until=NOW - timedelta(hours=1)
    )
    shop.unknown(late)
    _, summary = shop.run()
    result = lambda_app._finished(unit_settings(), summary)
    assert result["reconcile"]["counts"]["expired"] == 1
    assert [e["booking_id"] for e in result["reconcile"]["expired"]] == ["bk-9"]
    (text,) = alerts.texts
    assert "expired, never sent: thanks booking bk-9" in text
    assert shop.log.state(late) is ClaimState.EXPIRED


# --- the pass's time, its writes, and SENS down ----------------------------------------------------

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


@dataclass
class WaitingSens(FakeSentMessages):
    """A SENS whose list takes `wait` seconds of real time to answer (empty): 0.1 s a healthy busy one,
    30 s one slower than any run can spare."""

    wait: float = 30.0

    async def in_window(self, start: datetime, end: datetime) -> list[SentMessage]:
        self.reads.append("window")
        await asyncio.sleep(self.wait)
        return []


# A record that reads slowly (a busy SENS's many pages of a 30-day list, the same record first again
# every run) is cut at the pass's share of the spare time: the rest stays the sends', run after run.
def test_a_slow_record_takes_only_the_pass_share_and_the_sends_keep_the_rest() -> None:
    shop = Shop(records=[record(1), record(2)])
    shop.unknown(planned(1))
    slow = WaitingSens(FakeClock(time.time()))
    for _ in range(2):  # two runs, ten minutes apart: the same record is first again, as slow
        _, summary = shop.run(sent_messages=slow, time_left=counting_down(2.0))
        assert summary.as_result()["reconcile"]["status"] == "failed"
    # README: "in the Lambda no more than a quarter of the time its run can spare". The other three
    # quarters are the sends': bk-2 (nothing to do with the slow record) must go out.
    assert [m.booking_id for m in shop.transport.sent] == ["bk-2"], "every run deferred bk-2"


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


# A DynamoDB write runs on a thread: cancelling its await would not stop it, and the record would move
# with nobody to report it (an expired record is no longer open). Only SENS reads are ever cut.
def test_a_write_under_way_at_the_cut_is_never_cut_and_what_it_moved_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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


# The pass comes after the bookings are read: a run whose login fails (or is deferred, or refused by
# Naver) releases nothing it could not send, so no claim is deleted for an SMS nobody sends.
def test_a_run_that_cannot_log_in_releases_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
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
    assert "reconcile" not in result and shop.transport.sent == []  # no pass before the bookings
    assert shop.log.held(planned(1)) is not None, "released before a login that failed"


# A SENS none of whose answers can be read (down, or answering in a way read_page refuses, such as a
# page without `hasMore`) fails the pass: ReconcileFailed, which the template alarms on.
def test_a_sens_whose_every_answer_is_refused_fails_the_pass_for_the_alarm() -> None:
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


# A SENS that is down is asked once a pass, not once a record (8 s each): the pass ends at the first
# read it could not make, and the rest wait for the next run.
def test_a_sens_that_is_down_is_asked_once_a_pass() -> None:
    from naver_sms.application.errors import SentMessagesUnavailable

    shop = Shop(records=[])
    for n in range(1, 9):
        shop.unknown(planned(n))
    shop.sens.fail = SentMessagesUnavailable("SENS did not answer within 8 s")
    shop.run()
    assert len(shop.sens.reads) == 1, f"{len(shop.sens.reads)} reads of a SENS that is down, in one pass"


# A pass spends nearly all its time in SENS reads, so with a backlog larger than its budget one read is
# under way when the budget ends: it finishes (a grace past the budget), and the pass is no failure (no
# ReconcileFailed, no alarm): the rest waits for the next run.
def test_a_healthy_pass_with_a_backlog_larger_than_its_budget_is_not_a_failure() -> None:
    shop = Shop(records=[record(99)])
    for n in range(1, 21):
        shop.unknown(planned(n))
    sens = WaitingSens(FakeClock(time.time()), wait=0.1)
    _, summary = shop.run(sent_messages=sens, time_left=counting_down(2.0))  # budget: 0.25 * 2 s
    reconcile = summary.as_result()["reconcile"]
    assert reconcile["counts"]["left"] > 0  # the budget ran out: the rest waits, as designed
    assert reconcile["status"] == "ok", reconcile.get("reason")
