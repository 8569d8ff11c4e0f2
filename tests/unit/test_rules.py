from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.errors import InvalidMessage, InvalidRules
from naver_sms.domain.events import EventType
from naver_sms.domain.messages import PlannedMessage
from naver_sms.domain.rules import RuleSet, rules_from_mapping
from naver_sms.settings.rules import load_rules
from tests.support.procs import REPO

KST = timezone(timedelta(hours=9))
START = datetime(2026, 12, 1, 10, 0, tzinfo=KST)


def booking(status: BookingStatus, start: datetime = START) -> Booking:
    return Booking("b-1", "김민수", "01012345678", "커트", start, status)


def evaluate(
    rules: RuleSet, booking: Booking, now: datetime, event: EventType | None = None
) -> list[PlannedMessage]:
    """Each applicable rule's message, as the use case renders them."""
    return [rule.render(booking, rules.timezone) for rule in rules.applicable(booking, now, event)]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(REPO / "config" / "rules.yaml")


def test_confirmed_booking_created_gets_one_confirmation(rules: RuleSet) -> None:
    planned = evaluate(rules, booking(BookingStatus.CONFIRMED), START - timedelta(days=5), EventType.CREATED)
    assert [m.rule for m in planned] == ["confirmation"]
    assert planned[0].text == "김민수님, 12/01 10:00 커트 예약이 확정되었습니다."
    assert planned[0].phone == "01012345678"


def test_reminder_only_inside_its_window(rules: RuleSet) -> None:
    b = booking(BookingStatus.CONFIRMED)
    assert "reminder" not in [m.rule for m in evaluate(rules, b, START - timedelta(hours=25))]
    assert "reminder" in [m.rule for m in evaluate(rules, b, START - timedelta(hours=23))]
    assert "reminder" not in [m.rule for m in evaluate(rules, b, START + timedelta(minutes=1))]


def test_each_rule_has_one_owner_events_or_the_scheduled_run(rules: RuleSet) -> None:
    # Inside the reminder window both paths look at the booking; each plans only what it owns.
    now = START - timedelta(hours=2)
    confirmed = booking(BookingStatus.CONFIRMED)
    assert [m.rule for m in evaluate(rules, confirmed, now, EventType.CREATED)] == ["confirmation"]
    assert [m.rule for m in evaluate(rules, confirmed, now)] == ["reminder"]


@pytest.mark.parametrize(
    ("status", "event", "rule"),
    [
        (BookingStatus.COMPLETED, None, "thank_you"),
        (BookingStatus.CANCELLED, EventType.CANCELLED, "cancellation"),
        (BookingStatus.CANCELLED, EventType.UPDATED, "cancellation"),
    ],
)
def test_status_rules(rules: RuleSet, status: BookingStatus, event: EventType | None, rule: str) -> None:
    assert [m.rule for m in evaluate(rules, booking(status), START, event)] == [rule]


def test_a_cancelled_booking_gets_nothing_from_the_scheduled_run(rules: RuleSet) -> None:
    assert evaluate(rules, booking(BookingStatus.CANCELLED), START - timedelta(hours=1)) == []


def test_pending_booking_gets_nothing(rules: RuleSet) -> None:
    assert evaluate(rules, booking(BookingStatus.PENDING), START - timedelta(hours=1)) == []


def planned_keys(rules: RuleSet, b: Booking, now: datetime, event: EventType | None = None) -> list[str]:
    return [m.idempotency_key for m in evaluate(rules, b, now, event)]


def test_keys_are_stable_and_distinct(rules: RuleSet) -> None:
    now = START - timedelta(hours=1)
    confirmed = booking(BookingStatus.CONFIRMED)
    reminder = planned_keys(rules, confirmed, now)
    assert reminder == planned_keys(rules, confirmed, now + timedelta(minutes=30))
    confirmation = planned_keys(rules, confirmed, now, EventType.CREATED)
    assert len(set(reminder + confirmation)) == 2
    moved = planned_keys(rules, booking(BookingStatus.CONFIRMED, START + timedelta(hours=1)), now)
    assert moved != reminder  # a rescheduled booking earns a new reminder


def test_the_same_instant_written_with_another_offset_is_the_same_reminder(rules: RuleSet) -> None:
    now = START - timedelta(hours=1)
    in_utc = START.astimezone(UTC)
    assert planned_keys(rules, booking(BookingStatus.CONFIRMED, in_utc), now) == planned_keys(
        rules, booking(BookingStatus.CONFIRMED), now
    )


def test_a_message_longer_than_an_lms_is_refused_not_cut() -> None:
    ruleset = rules_from_mapping({"rules": [{**BASE_RULE, "template": "{service}" + "가" * 990}]})
    long_service = Booking("b-1", "김", "01012345678", "나" * 60, START, BookingStatus.CONFIRMED)
    with pytest.raises(InvalidMessage, match=r"2100 bytes; an LMS holds at most 2000"):
        evaluate(ruleset, long_service, START - timedelta(hours=1))


def test_naive_now_is_refused(rules: RuleSet) -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        evaluate(rules, booking(BookingStatus.CONFIRMED), datetime(2026, 1, 1))


BASE_RULE = {
    "name": "r",
    "key": "scheduled/r",
    "status": "confirmed",
    "sent_by": "scheduled",
    "template": "hi {customer_name}",
}
EVENTS_RULE = {**BASE_RULE, "key": "events/r", "sent_by": "events", "events": ["booking.created"]}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected a mapping at the top"),
        ({"rules": []}, "field 'rules': expected a non-empty list"),
        ({"timezone": "Mars/Base", "rules": [BASE_RULE]}, "unknown time zone 'Mars/Base'"),
        ({"rules": [{**BASE_RULE, "status": "done"}]}, "rule #1 ('r'): field 'status'"),
        ({"rules": [{**BASE_RULE, "template": "hi {nickname}"}]}, "unknown placeholder(s) ['nickname']"),
        ({"rules": [{**BASE_RULE, "template": "hi {"}]}, "field 'template'"),
        ({"rules": [{**EVENTS_RULE, "events": ["booking.moved"]}]}, "field 'events'"),
        ({"rules": [{**EVENTS_RULE, "events": []}]}, "must list the event types"),
        ({"rules": [{**BASE_RULE, "events": ["booking.created"]}]}, "has no events"),
        ({"rules": [{**BASE_RULE, "sent_by": "both"}]}, "field 'sent_by'"),
        (
            {"rules": [{k: v for k, v in BASE_RULE.items() if k != "key"}]},
            "field 'key': expected '<sent_by>/<id>'",
        ),
        ({"rules": [{**BASE_RULE, "key": "Scheduled/R R"}]}, "field 'key': expected '<sent_by>/<id>'"),
        ({"rules": [{**BASE_RULE, "key": "x" * 10_000}]}, "(10002 chars)"),
        (
            {"rules": [{**BASE_RULE, "sent_by": "events", "events": ["booking.created"]}]},
            "is not sent by scheduled",
        ),
        ({"rules": [BASE_RULE, {**EVENTS_RULE, "name": "other"}]}, "key ids must be unique; repeated: ['r']"),
        ({"rules": [{k: v for k, v in BASE_RULE.items() if k != "sent_by"}]}, "field 'sent_by'"),
        ({"rules": [{**BASE_RULE, "template": "{customer_name:d}"}]}, "field 'template'"),
        ({"rules": [{**BASE_RULE, "template": "가" * 1001}]}, "an LMS holds at most 2000"),
        ({"rules": [{**BASE_RULE, "hours_before_start": -1}]}, "field 'hours_before_start'"),
        ({"rules": [{**BASE_RULE, "hours_before_start": True}]}, "field 'hours_before_start'"),
        ({"rules": [{**BASE_RULE, "colour": "red"}]}, "unknown field(s) ['colour']"),
        ({"rules": [{**BASE_RULE, "name": ""}]}, "field 'name'"),
        ({"rules": [BASE_RULE, BASE_RULE]}, "repeated: ['r']"),
        ({"rules": ["r"]}, "rule #1: expected a mapping"),
    ],
)
def test_invalid_rules_name_rule_and_field(document: object, message: str) -> None:
    with pytest.raises(InvalidRules) as caught:
        rules_from_mapping(document)
    assert message in str(caught.value)


def test_rules_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - name: x\n    key: scheduled/x\n    status: confirmed\n    sent_by: scheduled\n"
        "    template: '{oops}'\n"
    )
    with pytest.raises(InvalidRules, match=rf"{path}: rule #1 \('x'\): field 'template'"):
        load_rules(path)
