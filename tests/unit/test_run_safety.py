"""The scheduled run's safety: the volume breaker holds a run over its limit, and every login passes the
login guard (a failed one backs off, a refused request keeps the session and logs in nobody)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from naver_sms.adapters.login_guard_store import StoreLoginGuard
from naver_sms.application.breaker import HeldMemory
from naver_sms.application.errors import (
    DeadlineTooShort,
    LoginDeferred,
    LoginFailed,
    SessionExpired,
    SourceRefused,
)
from naver_sms.application.scheduled_run import RunSummary, ScheduledRun
from naver_sms.application.session import SessionKeeper
from naver_sms.bootstrap import lambda_image
from naver_sms.bootstrap.login_guard import login_guard
from naver_sms.domain.booking import booking_from_mapping
from naver_sms.domain.rules import rules_from_mapping
from tests.support.bookings import THANKS_RULE
from tests.support.fakes import (
    FakeAuth,
    FakeBookingSource,
    FakeSentLog,
    FakeTransport,
    MemoryOpenClaims,
    MemoryRecords,
    unknown,
)
from tests.support.roots import lambda_run, unit_settings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RULES = rules_from_mapping(
    {
        "rules": [
            THANKS_RULE,
            {
                "name": "reminder",
                "key": "scheduled/reminder",
                "status": "confirmed",
                "sent_by": "scheduled",
                "send_window": {"from": "24h before start", "until": "start"},
                "template": "{customer_name}님 내일",
            },
        ]
    }
)


def record(n: int, status: str = "completed", hours: float = -2) -> dict[str, Any]:
    return {
        "id": f"bk-{n}",
        "customer_name": f"손님{n}",
        "phone": f"010-5555-{n:04d}",
        "service": "커트",
        "start": (NOW + timedelta(hours=hours)).isoformat(),
        "status": status,
    }


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


class World:
    """One shop over many runs of the Lambda's real root (its wiring, its settings), each adapter that
    would reach Naver, SENS or DynamoDB a fake: its booking source, login, sent log, SENS, the guard's
    store, and one warm environment, so a session and a held run are kept from one run to the next."""

    def __init__(self, records: list[object], *, max_sends: int = 30) -> None:
        self.auth = FakeAuth()
        self.source = FakeBookingSource(records)
        self.sent_log = FakeSentLog()
        self.transport = FakeTransport()
        self.guard_records = MemoryRecords()
        self.clock = Clock()
        self.warm = lambda_image.Warm(sessions=SessionKeeper(clock=self.clock), held=HeldMemory())
        self.max_sends = max_sends

    @property
    def max_sends(self) -> int:
        return self.settings.sms.max_per_run

    @max_sends.setter
    def max_sends(self, limit: int) -> None:
        """The operator changes sms.max_per_run: the next run is built from the new settings."""
        self.settings = unit_settings(
            SMS_MAX_PER_RUN=str(limit),
            NAVER_MAX_LOGINS_PER_HOUR="2",
            NAVER_LOGIN_BACKOFF_SECONDS="600",
            NAVER_LOGIN_BACKOFF_MAX_SECONDS="21600",
        )

    def guard(self) -> StoreLoginGuard:
        return login_guard(self.settings, store=self.guard_records, clock=self.clock)

    def run(self, *, dry_run: bool = False, time_left: Callable[[], float] | None = None) -> ScheduledRun:
        return lambda_run(
            self.transport,
            self.sent_log,
            rules=RULES,
            dry_run=dry_run,
            settings=self.settings,
            auth=self.auth,
            bookings=self.source,
            warm=self.warm,
            guard_store=self.guard_records,
            open_claims=MemoryOpenClaims(self.sent_log.records),
            clock=self.clock,
            time_left=time_left,
        )

    def margin(self) -> float:
        """The seconds the root keeps back for one worst-case send and the result after it."""
        return lambda_image.deadline(self.settings, lambda: 0.0).reserve_seconds

    def ran(self, run: ScheduledRun | None = None, **kwargs: Any) -> RunSummary:
        now = datetime.fromtimestamp(self.clock.now, UTC)
        return asyncio.run((run or self.run())(now, **kwargs))

    def later(self, minutes: float) -> None:
        self.clock.now += minutes * 60


# --- the volume breaker -------------------------------------------------------------------------------


def test_a_run_over_the_limit_sends_nothing_and_says_per_rule_how_to_go_ahead_once() -> None:
    records = [record(n) for n in range(1, 4)] + [record(n, "confirmed", 3) for n in range(4, 6)]
    world = World(records, max_sends=4)
    result = world.ran().as_result()
    assert world.transport.sent == [] and world.sent_log.records.items == {}
    assert result["status"] == "held" and result["sent"] == 0
    assert result["held"] == {"new": 5, "limit": 4, "by_rule": {"reminder": 2, "thanks": 3}}
    assert "reminder 2, thanks 3" in result["reason"] and "sms.max_per_run = 4" in result["reason"]
    assert '{"action": "run", "dry_run": false, "allow_sends": 5}' in result["reason"]
    assert "5555" not in str(result)


def test_one_over_the_limit_is_held_and_exactly_the_limit_goes_out() -> None:
    world = World([record(n) for n in range(1, 4)], max_sends=2)
    assert world.ran().as_result()["status"] == "held"
    world.max_sends = 3
    result = world.ran().as_result()
    assert (result["status"], result["sent"], len(world.transport.sent)) == ("ok", 3, 3)


def test_a_go_ahead_naming_the_number_sends_them_once_and_only_for_that_run() -> None:
    world = World([record(n) for n in range(1, 6)], max_sends=2)
    assert world.ran(allow_sends=4).as_result()["status"] == "held"  # fewer than planned: still held
    result = world.ran(allow_sends=5).as_result()
    assert (result["status"], result["sent"]) == ("ok", 5)
    world.source.records = [*world.source.records, *(record(n) for n in range(6, 9))]
    again = world.ran().as_result()  # the next run is under the setting again: 3 new > 2
    assert (again["status"], again["held"]["new"], again["skipped_duplicates"]) == ("held", 3, 0)
    assert len(world.transport.sent) == 5


@pytest.mark.parametrize("allow", [4, 6, 100_000])
def test_a_go_ahead_that_does_not_name_the_number_held_is_held_again(allow: int) -> None:
    world = World([record(n) for n in range(1, 6)], max_sends=2)
    result = world.ran(allow_sends=allow).as_result()
    assert result["status"] == "held" and f"allow_sends {allow} does not name that number" in result["reason"]
    assert world.transport.sent == []


def test_a_hold_alerts_once_for_the_same_messages_and_again_when_they_change() -> None:
    world = World([record(n) for n in range(1, 6)], max_sends=2)
    assert world.ran().held_is_news
    world.later(10)
    again = world.ran()
    assert again.as_result()["status"] == "held" and not again.held_is_news
    world.source.records = [*world.source.records, record(6)]
    assert world.ran().held_is_news


def test_held_messages_whose_windows_closed_are_said_once_never_silently_dropped() -> None:
    world = World([record(n, hours=-22) for n in range(1, 4)] + [record(4, hours=-2)], max_sends=2)
    assert world.ran().as_result()["status"] == "held"
    world.later(3 * 60)  # three hours on: bk-1..3's thank-you windows (until 24 h after) have closed
    result = world.ran().as_result()
    assert (result["status"], result["sent"]) == ("ok", 1)
    assert result["lapsed"] == {"count": 3, "by_rule": {"thanks": 3}}
    world.later(10)
    assert "lapsed" not in world.ran().as_result()


def test_messages_sent_before_do_not_count_against_the_limit() -> None:
    world = World([record(n) for n in range(1, 4)], max_sends=3)
    assert world.ran().as_result()["sent"] == 3
    world.source.records = [*world.source.records, record(4)]
    world.max_sends = 1
    result = world.ran().as_result()
    assert (result["status"], result["sent"], result["skipped_duplicates"]) == ("ok", 1, 3)


def test_a_dry_run_is_never_held_it_sends_nothing_anyway() -> None:
    world = World([record(n) for n in range(1, 6)], max_sends=1)
    result = world.ran(world.run(dry_run=True)).as_result()
    assert (result["status"], world.transport.sent) == ("ok", [])


def test_an_invalid_record_in_a_held_run_is_still_reported() -> None:
    world = World([record(1), record(2), {"id": "bk-x", "phone": "1"}], max_sends=1)
    result = world.ran().as_result()
    assert result["status"] == "held"
    assert [(f["outcome"], f["booking_id"]) for f in result["failed"]] == [("invalid", "bk-x")]


# --- the login guard ----------------------------------------------------------------------------------


def test_a_failed_login_backs_off_and_the_next_runs_start_no_browser() -> None:
    world = World([record(1)])
    world.auth.fail = True
    run = world.run()
    with pytest.raises(LoginFailed):
        world.ran(run)
    assert (run.tally.logins, run.tally.failed, run.tally.deferred) == (1, 1, 0)
    for minutes in (1, 4, 4):  # 1, 5 and 9 minutes after it: the first backoff is 10 minutes
        world.later(minutes)
        deferred_run = world.run()
        with pytest.raises(LoginDeferred, match="backing off after 1 failed login") as caught:
            world.ran(deferred_run)
        assert deferred_run.tally.deferred == 1 and deferred_run.tally.logins == 0
        assert "make login-guard ACTION=clear" in str(caught.value)
    assert world.auth.logins == 0 and world.source.seen_cookies == []


def test_the_backoff_doubles_and_a_good_login_ends_it() -> None:
    world = World([record(1)])
    world.auth.fail = True
    with pytest.raises(LoginFailed):
        world.ran()
    world.later(11)
    with pytest.raises(LoginFailed):  # the second failure: 20 minutes now
        world.ran()
    world.later(15)
    with pytest.raises(LoginDeferred, match="after 2 failed login"):
        world.ran()
    world.later(70)  # past the backoff and the hour's two logins
    world.auth.fail = False
    assert world.ran().as_result()["login"] == "fresh"
    state = asyncio.run(world.guard().show())
    assert (state["failures_in_a_row"], state["blocked_until"]) == (0, None)


def test_a_new_session_refused_at_once_backs_off_too() -> None:
    world = World([record(1)])
    world.source.forgotten.add("session-1")  # Naver refuses the session its login just gave
    with pytest.raises(SessionExpired):
        world.ran()
    world.later(1)
    deferred = world.run()
    with pytest.raises(LoginDeferred, match="a new session was refused at once"):
        world.ran(deferred)
    assert world.auth.logins == 1 and deferred.tally.deferred == 1


def test_no_more_than_two_logins_an_hour_whatever_the_booking_api_says() -> None:
    world = World([record(1)])
    for n in range(1, 3):
        world.source.forgotten.add(f"session-{n - 1}")  # the kept session is over each run
        world.later(10)
        assert world.ran().as_result()["login"] == "fresh"
    world.source.forgotten.add("session-2")
    world.later(10)
    with pytest.raises(LoginDeferred, match="2 login\\(s\\) in the last hour"):
        world.ran()
    assert world.auth.logins == 2


def test_a_refused_request_keeps_the_session_and_logs_in_nobody() -> None:
    world = World([record(1)])
    world.ran()
    world.source.refuse = SourceRefused(
        "HTTP 403, refused for now; Naver asks to wait 120 s", retry_after=120
    )
    for _ in range(5):
        world.later(10)
        with pytest.raises(SourceRefused, match="120 s"):
            world.ran()
    assert len(world.source.seen_cookies) == 6  # 120 s asked, 10 min between runs: each one asks
    world.source.refuse = None
    world.later(10)
    assert world.ran().as_result()["login"] == "reused"
    assert world.auth.logins == 1


def test_while_a_retry_after_lasts_no_request_is_made() -> None:
    world = World([record(1)])
    world.ran()
    world.source.refuse = SourceRefused(
        "HTTP 429, refused for now; Naver asks to wait 1800 s", retry_after=1800
    )
    world.later(10)
    with pytest.raises(SourceRefused, match="1800 s"):
        world.ran()
    asked = len(world.source.seen_cookies)
    world.source.refuse = None
    for _ in range(2):  # 10 and 20 minutes into the 30 Naver asked for
        world.later(10)
        with pytest.raises(SourceRefused, match="no request was made"):
            world.ran()
    assert len(world.source.seen_cookies) == asked
    world.later(11)
    assert world.ran().as_result()["login"] == "reused"
    assert world.auth.logins == 1


def test_a_kept_session_that_works_never_asks_the_guard() -> None:
    world = World([record(1)])
    world.ran()
    world.guard_records.items.clear()  # a guard that would have to be read would be empty now
    world.later(10)
    assert world.ran().as_result()["login"] == "reused"
    assert world.guard_records.items == {}


# --- the deadline ----------------------------------------------------------------------------------


def test_near_its_deadline_a_run_claims_nothing_more_and_counts_what_it_left() -> None:
    world = World([record(n) for n in range(1, 6)])
    margin = world.margin()
    # Ten seconds go by with each send: the fourth would start with less than the reserve left.
    result = world.ran(world.run(time_left=lambda: margin + 25 - 10 * len(world.transport.sent))).as_result()
    assert (result["status"], result["sent"], result["deferred"]) == ("partial", 3, 2)
    assert len(world.sent_log.records.items) == 3  # the two left were never claimed
    assert world.ran().as_result()["sent"] == 2  # the next run sends them, once


def test_a_run_with_time_to_spare_defers_nothing() -> None:
    world = World([record(n) for n in range(1, 4)])
    result = world.ran(world.run(time_left=lambda: world.margin() + 300)).as_result()
    assert (result["status"], result["sent"], "deferred" in result) == ("ok", 3, False)


# --- the sweep: what the sent log still has open, whatever runs plan today ----------------------------


def test_an_unreported_unknown_whose_window_closed_is_reported_by_the_sweep_once() -> None:
    world = World([record(1, hours=-23.5)])  # a thank-you whose window closes in 30 minutes
    world.transport.answer = unknown
    first = world.ran()
    assert [d.outcome.value for d in first.deliveries] == ["unknown"]
    # ... and the run was killed before its result, alert and acknowledgement: report still pending.
    world.transport.answer = lambda message: "req"
    world.later(40)  # the window has closed: no run plans this message again
    late = world.ran()
    assert [(d.outcome.value, d.booking_id) for d in late.deliveries] == [("unknown", "bk-1")]
    assert "never reported until now" in late.deliveries[0].reason
    asyncio.run(world.sent_log.reported(late.deliveries[0].idempotency_key))  # the run's reporter
    world.later(10)
    assert world.ran().deliveries == ()
    assert len(world.transport.sent) == 1


def test_a_claim_whose_sender_died_is_reported_by_the_sweep_though_nobody_plans_it() -> None:
    world = World([record(1)])
    gone = record(9)  # planned by a run that died mid-send; the booking is no longer listed
    rules_message = RULES.rules[0].render(booking_from_mapping(gone), RULES.timezone)
    world.sent_log.planted(rules_message, "lambda:dead", world.clock.now - 121)
    result = world.ran().as_result()
    assert [(f["outcome"], f["booking_id"]) for f in result["failed"]] == [("unknown", "bk-9")]
    assert "lambda:dead" in result["failed"][0]["reason"] and world.transport.sent[0].booking_id == "bk-1"


def test_a_live_claim_of_another_run_is_left_alone_by_the_sweep() -> None:
    world = World([record(1)])
    other = RULES.rules[0].render(booking_from_mapping(record(9)), RULES.timezone)
    world.sent_log.planted(other, "lambda:busy", world.clock.now - 5)
    assert world.ran().as_result()["failed"] == []
    assert world.sent_log.state(other) is not None and world.sent_log.state(other).value == "claimed"


def test_a_dry_run_sweeps_nothing() -> None:
    world = World([record(1)])
    other = RULES.rules[0].render(booking_from_mapping(record(9)), RULES.timezone)
    world.sent_log.planted(other, "lambda:dead", world.clock.now - 500)
    assert world.ran(world.run(dry_run=True)).as_result()["failed"] == []


@pytest.mark.parametrize("left", [5.0, float("nan"), -1.0])
def test_a_run_that_could_not_make_one_send_in_time_is_refused_at_the_start(left: float) -> None:
    world = World([record(1)])
    with pytest.raises(DeadlineTooShort, match="raise the function's timeout"):
        world.ran(world.run(time_left=lambda: left))
    assert world.auth.logins == 0 and world.source.seen_cookies == []


def test_a_held_run_still_reports_what_the_sent_log_has_open() -> None:
    world = World([record(n) for n in range(1, 6)], max_sends=2)
    other = RULES.rules[0].render(booking_from_mapping(record(9)), RULES.timezone)
    world.sent_log.planted(other, "lambda:dead", world.clock.now - 500)
    result = world.ran().as_result()
    assert result["status"] == "held" and world.transport.sent == []
    assert [(f["outcome"], f["booking_id"]) for f in result["failed"]] == [("unknown", "bk-9")]
