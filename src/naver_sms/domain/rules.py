"""SMS rules: which booking, in which state and at which time, gets which message, sent by which path.

Every rule has a send window relative to the booking's start (`send_window`) and is planned only inside
it: a rule without one would apply to a booking of any age, and the first run would message every past
customer. Evaluation is pure and deterministic for a given `now`, so scheduled reruns and worker
redeliveries plan the same messages with the same idempotency keys. Each rule is sent by exactly one
path (`sent_by`): the Lambda's scheduled run over every booking it reads, or booking events (the
worker's, or the Lambda's own change feed, as the deployment's EVENTS_MODE says), so one deployment never
sends the same message from both.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.errors import InvalidMessage, InvalidRules
from naver_sms.domain.events import EventType
from naver_sms.domain.messages import PlannedMessage, SentBy, idempotency_key, message_kind
from naver_sms.domain.template import without_strftime
from naver_sms.domain.text import shown

TEMPLATE_FIELDS = frozenset({"customer_name", "service", "start", "booking_id"})
_RULE_KEYS = frozenset({"name", "key", "status", "sent_by", "events", "send_window", "once", "template"})
_WINDOW_KEYS = ("from", "until")
# The longest window a rule may have: longer defeats its purpose, which is to leave bookings long past
# (or far ahead) alone.
MAX_WINDOW = timedelta(days=90)
# An end of the window: `start`, or `<N><unit> before start` / `<N><unit> after start`. The sign is
# matched only to refuse it with a clearer message than "not the form".
_OFFSET = re.compile(r"([-+]?)([0-9]+(?:\.[0-9]+)?) ?([mhd]) +(before|after) +start")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_OFFSET_FORM = (
    "'start', '<N><unit> before start' or '<N><unit> after start' (N a positive number, unit m, h or d)"
)
_MAX_OFFSET_CHARS = 40
_WINDOW_EXAMPLE = "send_window: {from: 1h after start, until: 24h after start}"
# A rule's key, `<sent_by>/<id>`: the id is what its messages' idempotency keys are made of, so the sent
# log knows them; the prefix names the path (and so the sent log) that sends them.
_KEY = re.compile(r"(scheduled|events)/([a-z0-9][a-z0-9_-]{0,63})")
# What a template is rendered with at load time, so a bad format spec fails the load, not a send.
_SAMPLE = {
    "customer_name": "홍길동",
    "service": "커트",
    "start": datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
    "booking_id": "sample",
}


@dataclass(frozen=True)
class SendWindow:
    """When, relative to a booking's start, a rule may send: from `opens` (None: any time before
    `closes`, only for events rules) up to, not including, `closes`."""

    opens: timedelta | None
    closes: timedelta

    def contains(self, start: datetime, now: datetime) -> bool:
        # now - start, not start + offset: no offset can carry an instant past year 1 or 9999.
        since_start = now - start
        return (self.opens is None or self.opens <= since_start) and since_start < self.closes


@dataclass(frozen=True)
class Rule:
    name: str  # for people: results and logs show it; renaming it changes nothing else
    key: str  # for the sent log: `<sent_by>/<id>`, never changed for a rule that has sent anything
    status: BookingStatus
    template: str
    sent_by: SentBy
    send_window: SendWindow
    events: frozenset[EventType] = frozenset()
    per_start: bool = False  # once per start instant (a reminder), else once per booking: see `_once`

    def answers(self, status: BookingStatus, event: EventType | None) -> bool:
        """Whether this rule is for a booking in `status`, read by the scheduled run (event None) or
        for the event given: everything but the send window."""
        if status is not self.status:
            return False
        if event is None:
            return self.sent_by is SentBy.SCHEDULED
        return self.sent_by is SentBy.EVENTS and event in self.events

    @cached_property
    def key_id(self) -> str:
        """The key without its path: the material of the messages' idempotency keys (until rules had
        keys it was the rule's name, so a rule keyed `<sent_by>/<its old name>` keeps its sent log)."""
        return self.key.split("/", 1)[1]

    def occasion(self, booking: Booking) -> str:
        # The start instant in UTC, so another offset for the same instant is the same reminder.
        return booking.start.astimezone(UTC).isoformat() if self.per_start else ""

    @cached_property
    def _renderable(self) -> str:
        return without_strftime(self.template)

    def render(self, booking: Booking, timezone: ZoneInfo) -> PlannedMessage:
        text = self._renderable.format(
            customer_name=booking.customer_name,
            service=booking.service,
            start=booking.start.astimezone(timezone),
            booking_id=booking.booking_id,
        )
        return PlannedMessage(
            rule=self.name,
            booking_id=booking.booking_id,
            phone=booking.phone,
            text=text,
            idempotency_key=idempotency_key(self.key_id, booking.booking_id, self.occasion(booking)),
            kind=message_kind(self.name, text),
            send_until=self.sends_until(booking.start),
            sent_by=self.sent_by,
        )

    def sends_until(self, start: datetime) -> datetime | None:
        """When this rule stops sending for a booking starting at `start`: the end of its window."""
        try:
            return start + self.send_window.closes
        except OverflowError:  # a start near year 9999: no end this side of it, so none is claimed
            return None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    timezone: ZoneInfo

    def applicable(self, booking: Booking, now: datetime, event: EventType | None = None) -> list[Rule]:
        """The scheduled run passes no event; the worker passes the event's type."""
        if now.tzinfo is None:
            raise ValueError("now must be time-zone aware")
        start = booking.start
        answering = self._answering.get((booking.status, event), ())  # a status or event no rule knows: none
        return [rule for rule in answering if rule.send_window.contains(start, now)]

    @cached_property
    def _answering(self) -> dict[tuple[BookingStatus, EventType | None], tuple[Rule, ...]]:
        # All but the send window is known once the rules are: asked once, not per booking and rule.
        return {
            (status, event): tuple(rule for rule in self.rules if rule.answers(status, event))
            for status in BookingStatus
            for event in (None, *EventType)
        }


def _where(index: int, raw: Mapping[str, object]) -> str:
    name = raw.get("name")
    return f"rule #{index + 1}" + (f" ({shown(name)})" if isinstance(name, str) else "")


def _parse_rule(index: int, raw: object) -> Rule:
    if not isinstance(raw, Mapping):
        raise InvalidRules(f"rule #{index + 1}: expected a mapping, got {type(raw).__name__}")
    where = _where(index, raw)
    if "hours_before_start" in raw:
        hours = raw["hours_before_start"]
        valid = isinstance(hours, int | float) and not isinstance(hours, bool)
        n = f"{hours:g}" if valid and 0 < hours <= MAX_WINDOW / timedelta(hours=1) else "<N>"
        raise InvalidRules(
            f"{where}: field 'hours_before_start' is no longer read: write "
            f"send_window: {{from: {n}h before start, until: start}} instead"
        )
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise InvalidRules(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRules(f"{where}: field 'name': expected a non-empty string, got {shown(name)}")
    try:
        status = BookingStatus(str(raw.get("status")))
    except ValueError as err:
        allowed = [s.value for s in BookingStatus]
        raise InvalidRules(
            f"{where}: field 'status': expected one of {allowed}, got {shown(raw.get('status'))}"
        ) from err
    sent_by = _parse_sent_by(where, raw.get("sent_by"))
    events = _parse_events(where, raw.get("events", []))
    if sent_by is SentBy.EVENTS and not events:
        raise InvalidRules(
            f"{where}: field 'events': a rule sent by events must list the event types it answers"
        )
    if sent_by is SentBy.SCHEDULED and events:
        raise InvalidRules(
            f"{where}: field 'events': a rule sent by the scheduled run has no events; remove the field "
            "or set sent_by: events"
        )
    return Rule(
        name=name,
        key=_parse_key(where, raw.get("key"), sent_by),
        status=status,
        template=_parse_template(where, raw.get("template")),
        sent_by=sent_by,
        send_window=(window := _parse_window(where, raw.get("send_window"), sent_by)),
        per_start=_once(where, raw.get("once"), window),
        events=events,
    )


def _parse_key(where: str, key: object, sent_by: SentBy) -> str:
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise InvalidRules(
            f"{where}: field 'key': expected '<sent_by>/<id>' (id: a-z, 0-9, '_', '-'), "
            f"got {shown(key)}. The key is what the sent log knows the rule's messages by and must "
            f"never change once it has sent: for a rule from before keys, use '{sent_by.value}/<its "
            "name until now>', or everything it applies to is sent again"
        )
    if match[1] != sent_by.value:
        raise InvalidRules(
            f"{where}: field 'key': {key!r} is not sent by {match[1]} but by {sent_by.value}. Moving a rule "
            "to the other path moves it to another sent log, which has never seen its messages: everything "
            f"it applies to would be sent again. If that is meant, make it a new rule: key '{sent_by.value}/"
            "<a new id>'"
        )
    return match[0]


def _parse_sent_by(where: str, sent_by: object) -> SentBy:
    try:
        return SentBy(str(sent_by))
    except ValueError as err:
        allowed = [s.value for s in SentBy]
        raise InvalidRules(
            f"{where}: field 'sent_by': expected one of {allowed}, got {shown(sent_by)}"
        ) from err


def _parse_template(where: str, template: object) -> str:
    if not isinstance(template, str) or not template.strip():
        raise InvalidRules(f"{where}: field 'template': expected a non-empty string, got {shown(template)}")
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError as err:
        raise InvalidRules(f"{where}: field 'template': {err}") from err
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        raise InvalidRules(
            f"{where}: field 'template': unknown placeholder(s) {sorted(unknown)}; "
            f"allowed: {sorted(TEMPLATE_FIELDS)}"
        )
    try:
        message_kind("template", template.format(**_SAMPLE))
    except (ValueError, TypeError, InvalidMessage) as err:
        raise InvalidRules(f"{where}: field 'template': {err}") from err
    return template


def _parse_events(where: str, events: object) -> frozenset[EventType]:
    if not isinstance(events, Sequence) or isinstance(events, str):
        raise InvalidRules(f"{where}: field 'events': expected a list, got {shown(events)}")
    try:
        return frozenset(EventType(e) for e in events)
    except ValueError as err:
        allowed = [t.value for t in EventType]
        raise InvalidRules(
            f"{where}: field 'events': expected items from {allowed}, got {shown(list(events))}"
        ) from err


ONCE = ("per_booking", "per_start")


def _once(where: str, once: object, window: SendWindow) -> bool:
    """Whether the rule sends once per start instant (a rescheduled booking earns a new one) or once per
    booking. By default, per start when the window has a `from` and closes by the start (a reminder):
    exactly the rules that had `hours_before_start` before windows existed, so their keys, and the
    sent log's memory of them, stay. `once` says it outright where the default would change a key."""
    if once is None:
        return window.opens is not None and window.closes <= timedelta(0)
    if once not in ONCE:
        raise InvalidRules(f"{where}: field 'once': expected one of {list(ONCE)}, got {shown(once)}")
    return once == "per_start"


def _parse_window(where: str, window: object, sent_by: SentBy) -> SendWindow:
    if window is None:
        raise InvalidRules(
            f"{where}: field 'send_window' is required: every rule says when, relative to the booking's "
            f"start, it may send, e.g. {_WINDOW_EXAMPLE} (only a rule sent by events may leave out "
            "'from'). Without one a rule applies to bookings of any age, and the first run would message "
            "every past customer. A rule that has sent before keeps its messages' keys with `once: "
            "per_booking` (or `per_start` for one that had hours_before_start)"
        )
    if not isinstance(window, Mapping):
        raise InvalidRules(
            f"{where}: field 'send_window': expected a mapping such as {{from: 1h after start, until: 24h "
            f"after start}}, got {shown(window)}"
        )
    unknown = [key for key in window if key not in _WINDOW_KEYS]
    if unknown:
        raise InvalidRules(
            f"{where}: field 'send_window': unknown key(s) {shown(unknown)}; allowed: {list(_WINDOW_KEYS)}"
        )
    if "until" not in window:
        raise InvalidRules(
            f"{where}: field 'send_window.until' is required: when, relative to the start, the rule "
            "stops sending, e.g. 'start' or '24h after start'"
        )
    closes = _parse_offset(where, "until", window["until"])
    if "from" not in window:
        if sent_by is SentBy.SCHEDULED:
            raise InvalidRules(
                f"{where}: field 'send_window.from' is required for a rule sent by the scheduled run "
                "(only an events rule may send any time before 'until'), e.g. "
                f"{_WINDOW_EXAMPLE}"
            )
        return SendWindow(None, closes)
    opens = _parse_offset(where, "from", window["from"])
    if opens >= closes:
        raise InvalidRules(
            f"{where}: field 'send_window': 'until' ({shown(window['until'])}) must be after 'from' "
            f"({shown(window['from'])})"
        )
    if closes - opens > MAX_WINDOW:
        raise InvalidRules(
            f"{where}: field 'send_window': the window is {(closes - opens) / timedelta(days=1):g} days "
            f"long; at most {MAX_WINDOW.days} days is allowed (a longer one reaches bookings long past or "
            "far ahead, which is what a window is there to stop)"
        )
    return SendWindow(opens, closes)


def _parse_offset(where: str, end: str, raw: object) -> timedelta:
    """`start`, `<N><unit> before start` or `<N><unit> after start` as an offset from the start."""
    field = f"field 'send_window.{end}'"
    if raw == "start":
        return timedelta(0)
    match = _OFFSET.fullmatch(raw) if isinstance(raw, str) and len(raw) <= _MAX_OFFSET_CHARS else None
    if match is None:
        raise InvalidRules(f"{where}: {field}: expected {_OFFSET_FORM}, got {shown(raw)}")
    sign, number, unit, side = match.groups()
    if sign:
        raise InvalidRules(
            f"{where}: {field}: N must be a positive number, without a sign: say 'before' or 'after' "
            f"start, got {shown(raw)}"
        )
    try:
        offset = timedelta(**{_UNITS[unit]: float(number)})
    except OverflowError:
        raise InvalidRules(f"{where}: {field}: {shown(raw)} is too far from the start") from None
    if offset <= timedelta(0):
        raise InvalidRules(
            f"{where}: {field}: N must be a positive number (at least a microsecond; for the start "
            f"itself write 'start'), got {shown(raw)}"
        )
    return -offset if side == "before" else offset


def rules_from_mapping(data: object) -> RuleSet:
    """Validate a decoded rules document; raises InvalidRules naming the rule and field."""
    if not isinstance(data, Mapping):
        raise InvalidRules(f"rules file: expected a mapping at the top, got {type(data).__name__}")
    tz_name = data.get("timezone", "Asia/Seoul")
    try:
        timezone = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidRules(f"rules file: field 'timezone': unknown time zone {tz_name!r}") from err
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise InvalidRules(f"rules file: field 'rules': expected a non-empty list, got {raw_rules!r}")
    rules = tuple(_parse_rule(i, raw) for i, raw in enumerate(raw_rules))
    for field, values in (("names", [r.name for r in rules]), ("key ids", [r.key_id for r in rules])):
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise InvalidRules(f"rules file: rule {field} must be unique; repeated: {duplicates}")
    return RuleSet(rules, timezone)
