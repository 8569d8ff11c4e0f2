from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.errors import InvalidMessage, InvalidRules
from naver_sms.domain.events import EventType
from naver_sms.domain.messages import PlannedMessage, idempotency_key
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


def names(rules: RuleSet, b: Booking, now: datetime, event: EventType | None = None) -> list[str]:
    return [m.rule for m in evaluate(rules, b, now, event)]


@pytest.mark.parametrize(
    ("status", "rule", "opens", "closes"),
    [
        (BookingStatus.CONFIRMED, "reminder", START - timedelta(hours=24), START),
        (BookingStatus.COMPLETED, "thank_you", START + timedelta(hours=1), START + timedelta(hours=24)),
    ],
)
def test_a_window_includes_its_from_and_excludes_its_until(
    rules: RuleSet, status: BookingStatus, rule: str, opens: datetime, closes: datetime
) -> None:
    b, tick = booking(status), timedelta(microseconds=1)
    assert names(rules, b, opens - tick) == []
    assert names(rules, b, opens) == [rule]
    assert names(rules, b, closes - tick) == [rule]
    assert names(rules, b, closes) == []


# The shipped rules at one instant: no rule reaches a booking outside its window, however old.
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=KST)


@pytest.mark.parametrize("days_ago", [1, 90, 400])
def test_no_thank_you_for_a_booking_completed_days_ago(rules: RuleSet, days_ago: int) -> None:
    # Without a window the first production run thanked every past customer the API returns.
    assert names(rules, booking(BookingStatus.COMPLETED, NOW - timedelta(days=days_ago)), NOW) == []


def test_a_thank_you_for_a_booking_that_started_two_hours_ago(rules: RuleSet) -> None:
    assert names(rules, booking(BookingStatus.COMPLETED, NOW - timedelta(hours=2)), NOW) == ["thank_you"]


def test_a_reminder_for_a_booking_in_two_hours_none_for_one_in_three_days(rules: RuleSet) -> None:
    assert names(rules, booking(BookingStatus.CONFIRMED, NOW + timedelta(hours=2)), NOW) == ["reminder"]
    assert names(rules, booking(BookingStatus.CONFIRMED, NOW + timedelta(days=3)), NOW) == []


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (BookingStatus.CONFIRMED, EventType.CREATED),
        (BookingStatus.CONFIRMED, EventType.UPDATED),
        (BookingStatus.CANCELLED, EventType.CANCELLED),
        (BookingStatus.CANCELLED, EventType.UPDATED),
    ],
)
def test_no_event_message_for_a_booking_that_already_started(
    rules: RuleSet, status: BookingStatus, event: EventType
) -> None:
    assert names(rules, booking(status, NOW - timedelta(minutes=1)), NOW, event) == []
    assert names(rules, booking(status, NOW), NOW, event) == []
    assert len(names(rules, booking(status, NOW + timedelta(days=60)), NOW, event)) == 1


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
    now = START - timedelta(hours=3) if event else START + timedelta(hours=3)  # inside each one's window
    assert [m.rule for m in evaluate(rules, booking(status), now, event)] == [rule]


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


def test_the_shipped_rules_keep_the_idempotency_keys_from_before_windows(rules: RuleSet) -> None:
    # The sent log knows sent messages by these keys; a changed key sends everything again. The recipe:
    # idempotency_key(<key id>, <booking id>, <occasion>), the occasion being the start instant in UTC
    # for the reminder (it had hours_before_start) and "" for every other rule.
    start_utc = START.astimezone(UTC).isoformat()
    cases = [
        (BookingStatus.CONFIRMED, EventType.CREATED, START - timedelta(days=2), "confirmation", ""),
        (BookingStatus.CONFIRMED, None, START - timedelta(hours=2), "reminder", start_utc),
        (BookingStatus.COMPLETED, None, START + timedelta(hours=2), "thank_you", ""),
        (BookingStatus.CANCELLED, EventType.CANCELLED, START - timedelta(days=2), "cancellation", ""),
    ]
    for status, event, now, rule, occasion in cases:
        (planned,) = evaluate(rules, booking(status), now, event)
        assert (planned.rule, planned.idempotency_key) == (rule, idempotency_key(rule, "b-1", occasion))


def test_reminders_for_two_start_instants_have_two_keys(rules: RuleSet) -> None:
    later = START + timedelta(days=1)
    (first,) = planned_keys(rules, booking(BookingStatus.CONFIRMED), START - timedelta(hours=1))
    (second,) = planned_keys(rules, booking(BookingStatus.CONFIRMED, later), later - timedelta(hours=1))
    assert first != second


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
    "send_window": {"from": "24h before start", "until": "start"},
    "template": "hi {customer_name}",
}
EVENTS_RULE = {**BASE_RULE, "key": "events/r", "sent_by": "events", "events": ["booking.created"]}


def windowed(window: object, rule: dict[str, object] = BASE_RULE) -> dict[str, object]:
    """A one-rule document whose rule has this send_window."""
    return {"rules": [{**rule, "send_window": window}]}


def without(field: str, rule: dict[str, object] = BASE_RULE) -> dict[str, object]:
    """The rule without one of its fields."""
    return {k: v for k, v in rule.items() if k != field}


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
        (
            {"rules": [without("send_window")]},
            "rule #1 ('r'): field 'send_window' is required: every rule says when, relative to the "
            "booking's start, it may send, e.g. send_window: {from: 1h after start, until: 24h after start}",
        ),
        ({"rules": [without("send_window", EVENTS_RULE)]}, "rule #1 ('r'): field 'send_window' is required"),
        (windowed(None), "field 'send_window' is required"),
        (
            {"rules": [{**BASE_RULE, "hours_before_start": 24}]},
            "rule #1 ('r'): field 'hours_before_start' is no longer read: write "
            "send_window: {from: 24h before start, until: start} instead",
        ),
        (
            {"rules": [{**without("send_window"), "hours_before_start": 1.5}]},
            "write send_window: {from: 1.5h before start, until: start} instead",
        ),
        ({"rules": [{**BASE_RULE, "hours_before_start": -1}]}, "{from: <N>h before start, until: start}"),
        ({"rules": [{**BASE_RULE, "hours_before_start": True}]}, "{from: <N>h before start, until: start}"),
        (windowed("24h before start"), "field 'send_window': expected a mapping"),
        (windowed(["24h before start", "start"]), "field 'send_window': expected a mapping"),
        (windowed(True), "field 'send_window': expected a mapping"),
        (windowed({"from": "1h after start", "to": "2h after start"}), "unknown key(s) ['to']"),
        (windowed({"from": "1h after start"}), "field 'send_window.until' is required"),
        (windowed({"until": "start"}), "field 'send_window.from' is required for a rule sent by the sched"),
        (windowed({"from": "start", "until": "start"}), "'until' ('start') must be after 'from' ('start')"),
        (windowed({"from": "2h after start", "until": "1h after start"}), "must be after 'from'"),
        (windowed({"from": "1h before start", "until": "2h before start"}), "must be after 'from'"),
        (
            windowed({"from": "91d before start", "until": "start"}),
            "field 'send_window': the window is 91 days long; at most 90 days is allowed",
        ),
        (windowed({"from": "45d before start", "until": "46d after start"}), "at most 90 days"),
        (
            windowed({"from": "tomorrow", "until": "start"}),
            "field 'send_window.from': expected 'start', '<N><",
        ),
        (windowed({"from": "24h before start", "until": "Start"}), "field 'send_window.until': expected"),
        (windowed({"from": "24 hours before start", "until": "start"}), "got '24 hours before start'"),
        (windowed({"from": "24h before end", "until": "start"}), "field 'send_window.from': expected"),
        (windowed({"from": "24w before start", "until": "start"}), "field 'send_window.from': expected"),
        (windowed({"from": "1e3m before start", "until": "start"}), "field 'send_window.from': expected"),
        (windowed({"from": "24h before start ", "until": "start"}), "field 'send_window.from': expected"),
        (windowed({"from": "-24h after start", "until": "start"}), "N must be a positive number, without"),
        (windowed({"from": "0h before start", "until": "start"}), "send_window.from': N must be a positive"),
        (windowed({"from": "0.0d before start", "until": "start"}), "N must be a positive number"),
        (windowed({"from": "0.000000001m before start", "until": "start"}), "N must be a positive number"),
        (windowed({"from": 24, "until": "start"}), "field 'send_window.from': expected 'start'"),
        (windowed({"from": True, "until": "start"}), "field 'send_window.from': expected 'start'"),
        (windowed({"from": "24h before start", "until": None}), "send_window.until': expected 'start'"),
        (windowed({"from": "\ud800h before start", "until": "start"}), "got '\\ud800h before start'"),
        (windowed({"from": "2" * 10_000 + "h before start", "until": "start"}), "(10016 chars)"),
        (windowed({"from": "9" * 20 + "d before start", "until": "start"}), "is too far from the start"),
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


def test_an_error_names_the_rule_without_a_window() -> None:
    thank_you = {**BASE_RULE, "name": "thank_you", "key": "scheduled/thank_you", "status": "completed"}
    document = {
        "rules": [
            BASE_RULE,
            {**EVENTS_RULE, "name": "e", "key": "events/e"},
            without("send_window", thank_you),
        ]
    }
    with pytest.raises(InvalidRules, match=r"^rule #3 \('thank_you'\): field 'send_window' is required"):
        rules_from_mapping(document)


@pytest.mark.parametrize(
    ("window", "opens", "closes"),
    [
        ({"until": "start"}, None, timedelta(0)),  # only an events rule may leave out from
        ({"from": "30d before start", "until": "start"}, timedelta(days=-30), timedelta(0)),
        (
            {"from": "2.5h before start", "until": "90m before start"},
            timedelta(hours=-2.5),
            timedelta(hours=-1.5),
        ),
        ({"from": "90d before start", "until": "start"}, timedelta(days=-90), timedelta(0)),  # the longest
        ({"from": "start", "until": "2.5d after start"}, timedelta(0), timedelta(hours=60)),
        (
            {"from": "10m after start", "until": "0.25h after start"},
            timedelta(minutes=10),
            timedelta(minutes=15),
        ),
        ({"from": "1 h after start", "until": "2d  after start"}, timedelta(hours=1), timedelta(days=2)),
    ],
)
def test_windows_that_load(window: dict[str, str], opens: timedelta | None, closes: timedelta) -> None:
    (rule,) = rules_from_mapping(windowed(window, EVENTS_RULE)).rules
    assert (rule.send_window.opens, rule.send_window.closes) == (opens, closes)


def test_rules_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - name: x\n    key: scheduled/x\n    status: confirmed\n    sent_by: scheduled\n"
        "    send_window: {from: 24h before start, until: start}\n    template: '{oops}'\n"
    )
    with pytest.raises(InvalidRules, match=rf"{path}: rule #1 \('x'\): field 'template'"):
        load_rules(path)


def only_key(rule: dict[str, object], b: Booking, now: datetime, event: EventType | None) -> str:
    (message,) = [r.render(b, ZONE) for r in rules_from_mapping({"rules": [rule]}).applicable(b, now, event)]
    return message.idempotency_key


ZONE = START.tzinfo  # type: ignore[assignment]


def test_a_rule_migrated_from_hours_before_start_keeps_its_once_per_start_keys() -> None:
    # Before windows, any rule with hours_before_start (an events rule too) was keyed per start.
    migrated = {**EVENTS_RULE, "send_window": {"from": "48h before start", "until": "start"}}
    b = booking(BookingStatus.CONFIRMED)
    key = only_key(migrated, b, START - timedelta(hours=1), EventType.CREATED)
    assert key == idempotency_key("r", b.booking_id, START.astimezone(UTC).isoformat())


def test_once_per_booking_keeps_the_keys_of_a_rule_that_had_no_window() -> None:
    # A rule without a window was keyed once per booking; the window a person gives it must not
    # re-send what it sent before (a from + a close by the start would otherwise mean once per start).
    rule = {**BASE_RULE, "send_window": {"from": "7d before start", "until": "start"}, "once": "per_booking"}
    b = booking(BookingStatus.CONFIRMED)
    assert only_key(rule, b, START - timedelta(hours=1), None) == idempotency_key("r", b.booking_id, "")
    per_start = {**rule, "once": "per_start"}
    after = {**per_start, "send_window": {"from": "1h after start", "until": "2h after start"}}
    expected = idempotency_key("r", b.booking_id, START.astimezone(UTC).isoformat())
    assert only_key(after, b, START + timedelta(minutes=90), None) == expected


@pytest.mark.parametrize("once", ["always", "", 1, True, ["per_start"], "per_start\u200b"])
def test_a_bad_once_is_refused_by_name(once: object) -> None:
    with pytest.raises(InvalidRules, match="field 'once': expected one of"):
        rules_from_mapping({"rules": [{**BASE_RULE, "once": once}]})
