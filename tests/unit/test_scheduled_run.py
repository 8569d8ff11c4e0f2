"""The scheduled run handles each booking on its own: one bad record or refused send never stops the rest.

Each run is the Lambda's composition root (bootstrap/lambda_image.py) over fakes (tests/support/roots.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from naver_sms.application.errors import LoginFailed, SessionExpired
from naver_sms.application.notify import UNKNOWN_BOOKING
from naver_sms.application.scheduled_run import RunSummary, ScheduledRun
from naver_sms.application.session import Login, SessionKeeper
from naver_sms.bootstrap.lambda_image import Warm
from naver_sms.domain.booking import booking_from_mapping
from naver_sms.domain.messages import PlannedMessage, idempotency_key
from naver_sms.domain.rules import rules_from_mapping
from tests.support.bookings import THANKS_RULE
from tests.support.fakes import (
    FakeAuth,
    FakeBookingSource,
    FakeSentLog,
    FakeTransport,
    accepted,
    refused,
)
from tests.support.roots import IDENTITY, lambda_run, unit_settings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
THANKS_WINDOW = THANKS_RULE["send_window"]  # config/rules.yaml's thank_you
RULES = rules_from_mapping(
    {
        "rules": [
            THANKS_RULE,
            {
                "name": "hello",
                "key": "events/hello",
                "status": "confirmed",
                "sent_by": "events",
                "events": ["booking.created"],
                "send_window": {"until": "start"},
                "template": "hi",
            },
        ]
    }
)


def record(n: int, **change: Any) -> dict[str, Any]:
    return {
        "id": f"bk-{n}",
        "customer_name": f"손님{n}",
        "phone": f"010-5555-{n:04d}",
        "service": "커트",
        "start": (NOW - timedelta(hours=2)).isoformat(),
        "status": "completed",
        **change,
    }


def ran(run: ScheduledRun, now: datetime) -> RunSummary:
    """One run on an event loop of its own, as the Lambda runs each invocation."""
    return asyncio.run(run(now))


def run(records: list[object], transport: FakeTransport) -> dict[str, Any]:
    scheduled = lambda_run(transport, FakeSentLog(), rules=RULES, bookings=FakeBookingSource(records))
    return ran(scheduled, NOW).as_result()


def test_one_invalid_record_is_reported_and_the_rest_go_out() -> None:
    transport = FakeTransport()
    result = run([record(1), record(2, phone="not a phone"), "junk", record(3)], transport)
    assert [m.booking_id for m in transport.sent] == ["bk-1", "bk-3"]
    assert result["status"] == "partial"
    assert (result["bookings"], result["planned"], result["sent"]) == (4, 2, 2)
    failed = result["failed"]
    assert [(f["outcome"], f["booking_id"]) for f in failed] == [
        ("invalid", "bk-2"),
        ("invalid", UNKNOWN_BOOKING),
    ]
    assert "booking.phone" in failed[0]["reason"]
    assert "5555" not in str(failed)  # no phone number in a result that reaches Slack


def test_one_refused_send_is_reported_and_the_rest_go_out() -> None:
    def refuse_bk2(message: PlannedMessage) -> str:
        return refused(message) if message.booking_id == "bk-2" else accepted(message)

    result = run([record(1), record(2), record(3)], FakeTransport(refuse_bk2))
    assert (result["status"], result["sent"]) == ("partial", 2)
    assert [(f["outcome"], f["booking_id"], f["rule"]) for f in result["failed"]] == [
        ("refused", "bk-2", "thanks")
    ]


def test_the_scheduled_run_plans_only_rules_it_owns() -> None:
    transport = FakeTransport()
    result = run([record(1, status="confirmed", start=(NOW + timedelta(days=1)).isoformat())], transport)
    assert (result["status"], result["planned"], transport.sent) == ("ok", 0, [])


def test_a_message_too_long_for_an_lms_is_invalid_not_cut() -> None:
    rules = rules_from_mapping(
        {
            "rules": [
                {
                    "name": "long",
                    "key": "scheduled/long",
                    "status": "completed",
                    "sent_by": "scheduled",
                    "send_window": THANKS_WINDOW,
                    "template": "{service}" + "가" * 980,
                }
            ]
        }
    )
    transport = FakeTransport()
    bookings = FakeBookingSource([record(1, service="나" * 60)])
    summary = ran(lambda_run(transport, FakeSentLog(), rules=rules, bookings=bookings), NOW)
    (failure,) = summary.as_result()["failed"]
    assert failure["outcome"] == "invalid" and "an LMS holds at most 2000" in failure["reason"]
    assert transport.sent == []


def test_a_rerun_sends_nothing_twice() -> None:
    transport, log = FakeTransport(), FakeSentLog()
    scheduled = lambda_run(transport, log, rules=RULES, bookings=FakeBookingSource([record(1), record(2)]))
    assert ran(scheduled, NOW).as_result()["sent"] == 2
    again = ran(scheduled, NOW + timedelta(minutes=10)).as_result()
    assert (again["sent"], again["skipped_duplicates"], len(transport.sent)) == (0, 2, 2)


def test_a_lone_surrogate_in_one_booking_fails_that_booking_only() -> None:
    # Valid JSON ("\ud800") that is no text: sizing the message once raised UnicodeEncodeError and
    # stopped every scheduled run at that booking.
    transport = FakeTransport()
    records = [record(1), record(2, customer_name="김\ud800철수"), record(3), record(4), record(5)]
    result = run(records, transport)
    assert [m.booking_id for m in transport.sent] == ["bk-1", "bk-3", "bk-4", "bk-5"]
    assert (result["status"], result["sent"]) == ("partial", 4)
    assert result["failed"] == [
        {
            "outcome": "invalid",
            "idempotency_key": "",
            "rule": "",
            "booking_id": "bk-2",
            "reason": "booking.customer_name: not valid Unicode text (a lone surrogate at character 2)",
        }
    ]


@pytest.mark.parametrize(
    "phone", [1055550001, 10.55550001e9, ["010", "5555", "0001"], {"mobile": "010-5555-0001"}, True]
)
def test_a_phone_of_another_type_is_never_repeated_in_the_result(phone: object) -> None:
    transport = FakeTransport()
    result = run([record(1, phone=phone), record(2)], transport)
    (failed,) = result["failed"]
    assert failed["reason"] == f"booking.phone: expected a non-empty string, got a {type(phone).__name__}"
    assert "5555" not in str(result) and "55550001" not in str(result)


def test_a_name_of_another_type_is_never_repeated_in_the_result() -> None:
    result = run([record(1, customer_name={"family": "김", "given": "철수"})], FakeTransport())
    assert result["failed"][0]["reason"] == "booking.customer_name: expected a non-empty string, got a dict"


def test_renaming_a_rule_sends_nothing_again() -> None:
    # With keys made of its name, a rename re-sent thank_you to every completed booking in its window.
    # The key, not the name, is what the sent log knows.
    def ruleset(name: str) -> Any:
        rule = {"name": name, "key": "scheduled/thanks", "status": "completed", "sent_by": "scheduled"}
        template = "{customer_name}님 감사"
        return rules_from_mapping({"rules": [{**rule, "send_window": THANKS_WINDOW, "template": template}]})

    transport, sent_log = FakeTransport(), FakeSentLog()
    records = [record(1), record(2)]
    for name in ("thanks", "thank_you_renamed"):
        ran(lambda_run(transport, sent_log, rules=ruleset(name), bookings=FakeBookingSource(records)), NOW)
    assert [m.booking_id for m in transport.sent] == ["bk-1", "bk-2"]


def test_a_rule_keyed_by_its_old_name_keeps_the_sent_log_written_before_keys() -> None:
    (rule,) = RULES.rules[:1]
    booking = booking_from_mapping(record(1))
    assert rule.render(booking, RULES.timezone).idempotency_key == idempotency_key("thanks", "bk-1", "")


def warm(
    bookings: FakeBookingSource, auth: FakeAuth, env: Warm, transport: FakeTransport, log: FakeSentLog
) -> ScheduledRun:
    """One warm execution environment's run: the same Warm and sent log every time."""
    return lambda_run(transport, log, rules=RULES, auth=auth, bookings=bookings, warm=env)


def test_warm_runs_log_in_once_and_reuse_the_session() -> None:
    auth, env, transport, log = FakeAuth(), Warm(), FakeTransport(), FakeSentLog()
    bookings = FakeBookingSource([record(1), record(2)])
    logins = [ran(warm(bookings, auth, env, transport, log), NOW).login for _ in range(5)]
    assert logins == [Login.FRESH] + [Login.REUSED] * 4
    assert auth.logins == 1 and {c["NID_SES"] for c in bookings.seen_cookies} == {"session-1"}


def test_a_forgotten_session_gets_exactly_one_login_and_every_sms_goes_out_once() -> None:
    auth, env, transport, log = FakeAuth(), Warm(), FakeTransport(), FakeSentLog()
    bookings = FakeBookingSource([record(1), record(2), record(3)])
    ran(warm(bookings, auth, env, transport, log), NOW)
    bookings.forgotten.add("session-1")  # Naver forgot it between runs
    bookings.records = [*bookings.records, record(4)]
    again = ran(warm(bookings, auth, env, transport, log), NOW)
    assert (again.login, auth.logins) == (Login.FRESH, 2)
    assert sorted(m.booking_id for m in transport.sent) == ["bk-1", "bk-2", "bk-3", "bk-4"]
    assert again.as_result()["skipped_duplicates"] == 3


def test_a_session_ending_mid_pagination_restarts_from_page_one_and_sends_nothing_twice() -> None:
    auth, env, transport, log = FakeAuth(), Warm(), FakeTransport(), FakeSentLog()
    bookings = FakeBookingSource([record(n) for n in range(1, 6)])  # three pages of two
    ran(warm(bookings, auth, env, transport, log), NOW)
    bookings.pages_read.clear()
    bookings.forget_at_page = 2
    again = ran(warm(bookings, auth, env, transport, log), NOW)
    assert bookings.pages_read == [1, 1, 2, 3]  # page 2 refused the kept session: all over, logged in
    assert (again.login, auth.logins, again.bookings) == (Login.FRESH, 2, 5)
    assert len(transport.sent) == 5 and again.as_result()["skipped_duplicates"] == 5


def test_a_session_older_than_the_maximum_age_is_not_tried() -> None:
    clock = [0.0]
    auth, transport, log = FakeAuth(), FakeTransport(), FakeSentLog()
    env = Warm(sessions=SessionKeeper(clock=lambda: clock[0]))
    bookings = FakeBookingSource([record(1)])
    short = unit_settings(NAVER_SESSION_MAX_AGE_SECONDS="600")
    run = lambda_run(transport, log, rules=RULES, auth=auth, bookings=bookings, warm=env, settings=short)
    assert [ran(run, NOW).login for _ in range(2)] == [Login.FRESH, Login.REUSED]
    clock[0] = 600.0
    assert ran(run, NOW).login is Login.FRESH and auth.logins == 2
    assert len(bookings.seen_cookies) == 3  # the old session never reached the API


def test_a_failed_re_login_is_the_runs_login_failure() -> None:
    auth, env, transport, log = FakeAuth(), Warm(), FakeTransport(), FakeSentLog()
    bookings = FakeBookingSource([record(1)])
    ran(warm(bookings, auth, env, transport, log), NOW)
    bookings.forgotten.add("session-1")
    auth.fail = True
    with pytest.raises(LoginFailed, match="Wrong ID or password"):
        ran(warm(bookings, auth, env, transport, log), NOW)
    assert env.sessions.current(IDENTITY, 3600) is None


def test_a_session_refused_right_after_its_login_fails_the_run_and_is_not_kept() -> None:
    auth, env, transport, log = FakeAuth(), Warm(), FakeTransport(), FakeSentLog()
    bookings = FakeBookingSource([record(1)], forgotten={"session-1", "session-2"})
    with pytest.raises(SessionExpired):
        ran(warm(bookings, auth, env, transport, log), NOW)
    assert auth.logins == 1 and env.sessions.current(IDENTITY, 3600) is None
    assert transport.sent == []


def test_another_account_never_gets_the_kept_session() -> None:
    sessions = SessionKeeper()
    sessions.keep("login-page owner", {"NID_SES": "session-1"})
    assert sessions.current("login-page someone-else", 3600) is None
    assert "session-1" not in repr(sessions)
