from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from naver_sms.adapters.rules_file import load_rules
from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.errors import InvalidRules
from naver_sms.domain.events import EventType
from naver_sms.domain.rules import RuleSet, rules_from_mapping
from tests.support.procs import REPO

KST = timezone(timedelta(hours=9))
START = datetime(2026, 12, 1, 10, 0, tzinfo=KST)


def booking(status: BookingStatus, start: datetime = START) -> Booking:
    return Booking("b-1", "김민수", "01012345678", "커트", start, status)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(REPO / "config" / "rules.yaml")


def test_confirmed_booking_created_gets_one_confirmation(rules: RuleSet) -> None:
    planned = rules.evaluate(booking(BookingStatus.CONFIRMED), START - timedelta(days=5), EventType.CREATED)
    assert [m.rule for m in planned] == ["confirmation"]
    assert planned[0].text == "김민수님, 12/01 10:00 커트 예약이 확정되었습니다."
    assert planned[0].phone == "01012345678"


def test_reminder_only_inside_its_window(rules: RuleSet) -> None:
    b = booking(BookingStatus.CONFIRMED)
    assert "reminder" not in [m.rule for m in rules.evaluate(b, START - timedelta(hours=25))]
    assert "reminder" in [m.rule for m in rules.evaluate(b, START - timedelta(hours=23))]
    assert "reminder" not in [m.rule for m in rules.evaluate(b, START + timedelta(minutes=1))]


def test_created_event_does_not_trigger_reminder(rules: RuleSet) -> None:
    planned = rules.evaluate(booking(BookingStatus.CONFIRMED), START - timedelta(hours=2), EventType.CREATED)
    assert [m.rule for m in planned] == ["confirmation"]


@pytest.mark.parametrize(
    ("status", "rule"), [(BookingStatus.COMPLETED, "thank_you"), (BookingStatus.CANCELLED, "cancellation")]
)
def test_status_rules(rules: RuleSet, status: BookingStatus, rule: str) -> None:
    assert [m.rule for m in rules.evaluate(booking(status), START)] == [rule]


def test_pending_booking_gets_nothing(rules: RuleSet) -> None:
    assert rules.evaluate(booking(BookingStatus.PENDING), START - timedelta(hours=1)) == []


def test_keys_are_stable_and_distinct(rules: RuleSet) -> None:
    now = START - timedelta(hours=1)
    first = rules.evaluate(booking(BookingStatus.CONFIRMED), now)
    again = rules.evaluate(booking(BookingStatus.CONFIRMED), now + timedelta(minutes=30))
    assert [m.idempotency_key for m in first] == [m.idempotency_key for m in again]
    assert len({m.idempotency_key for m in first}) == len(first) == 2
    moved = rules.evaluate(booking(BookingStatus.CONFIRMED, START + timedelta(hours=1)), now)
    reminder_keys = {m.idempotency_key for m in first + moved if m.rule == "reminder"}
    assert len(reminder_keys) == 2  # a rescheduled booking earns a new reminder


def test_naive_now_is_refused(rules: RuleSet) -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        rules.evaluate(booking(BookingStatus.CONFIRMED), datetime(2026, 1, 1))


BASE_RULE = {"name": "r", "status": "confirmed", "template": "hi {customer_name}"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected a mapping at the top"),
        ({"rules": []}, "field 'rules': expected a non-empty list"),
        ({"timezone": "Mars/Base", "rules": [BASE_RULE]}, "unknown time zone 'Mars/Base'"),
        ({"rules": [{**BASE_RULE, "status": "done"}]}, "rule #1 ('r'): field 'status'"),
        ({"rules": [{**BASE_RULE, "template": "hi {nickname}"}]}, "unknown placeholder(s) ['nickname']"),
        ({"rules": [{**BASE_RULE, "template": "hi {"}]}, "field 'template'"),
        ({"rules": [{**BASE_RULE, "events": ["booking.moved"]}]}, "field 'events'"),
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
    path.write_text("rules:\n  - name: x\n    status: confirmed\n    template: '{oops}'\n")
    with pytest.raises(InvalidRules, match=rf"{path}: rule #1 \('x'\): field 'template'"):
        load_rules(path)
