"""The worker's fast paths answer as the slow code they replaced: JetStream ids as nats-py reads them,
the invisible-character table under a hostile name, a domestic phone number as the full normalisation
gives it, a clean name as the full cleaning gives it, a template without strftime as str.format renders it,
the rule set's table as asking every rule."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from nats.aio.msg import Msg

from naver_sms.domain import text
from naver_sms.domain.booking import Booking, BookingStatus
from naver_sms.domain.events import EventType
from naver_sms.domain.messages import SentBy
from naver_sms.domain.rules import Rule, rules_from_mapping
from naver_sms.domain.template import without_strftime
from naver_sms.entrypoints.worker.handler import _jetstream
from naver_sms.settings.rules import load_rules
from tests.support.procs import REPO


def test_one_hostile_name_does_not_evict_common_characters_from_the_invisible_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The table keeps the first 4096 code points it meets, for the life of the process: one 12 KB name of
    4096 distinct rare characters (well under max_event_bytes) fills it, and every later Hangul name then
    goes through __missing__ (a Python call and a unicodedata lookup per character) on every event,
    slower than the generator it replaced."""
    monkeypatch.setattr(text, "_INVISIBLE", text._Invisible())  # a fresh worker's table
    text.clean_text("".join(chr(0x4E00 + i) for i in range(4096)), 20)  # the hostile first event
    calls = 0
    real = unicodedata.category

    class Counting:
        @staticmethod
        def category(char: str) -> str:
            nonlocal calls
            calls += 1
            return real(char)

    monkeypatch.setattr(text, "unicodedata", Counting)
    for _ in range(100):
        text._visible("홍길동 고객님")  # the common case, 100 events later
    assert calls <= len(set("홍길동 고객님")), f"{calls} unicodedata lookups for 100 ordinary names"


def _msg(reply: str) -> Msg:
    return Msg(_client=None, subject="events", reply=reply, data=b"", headers=None)  # type: ignore[arg-type]


def _nats(reply: str) -> tuple[str, str, int]:
    try:
        meta = _msg(reply).metadata
        return str(meta.stream), str(meta.sequence.stream), int(meta.num_delivered)
    except Exception:  # noqa: BLE001  (what b2574fd's _original/_deliveries did)
        return "", "", 1


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.ORDERS.c.2.5.7.1700000000000000000.0",
        "$JS.ACK._.HASH.ORDERS.c.2.5.7.1700000000000000000.0",
        "$JS.ACK._.HASH.ORDERS.c.2.5.7.1700000000000000000.0.rnd",
        "$JS.ACK.ORDERS.c.2.5.7.notatime.0",  # timestamp nats cannot read
        "$JS.ACK.ORDERS.c.2.5.x.1700000000000000000.0",  # consumer sequence nats cannot read
        "$JS.ACK.ORDERS.c.2.5.7.1700000000000000000.many",  # pending nats cannot read
        "$JS.ACK.ORDERS.c.2.5.7.99999999999999999999999999999.0",  # timestamp out of datetime's range
    ],
)
def test_jetstream_ids_as_nats_reads_them(reply: str) -> None:
    assert _jetstream(_msg(reply)) == _nats(reply)


def _old_normalise_phone(raw: str) -> str:
    """b2574fd's normalise_phone, without c2b3cb2's early return."""
    from naver_sms.domain import phone as p

    compact = p._SEPARATORS.sub("", raw.strip())
    international = compact.startswith("+")
    digits = compact.removeprefix("+")
    if not p._ASCII_DIGITS.fullmatch(digits):
        raise p.InvalidBooking(
            f"booking.phone: expected ASCII digits 0-9 with optional spaces, '-', '.', '()' and a "
            f"leading '+'; got {len(raw)} characters with other ones"
        )
    if international and not digits.startswith(p._COUNTRY):
        raise p.InvalidBooking("booking.phone: only Korean numbers (+82) can be sent to")
    if digits.startswith(p._COUNTRY):
        digits = "0" + digits.removeprefix(p._COUNTRY).removeprefix("0")
    if not p._MOBILE.fullmatch(digits):
        raise p.InvalidBooking(
            "booking.phone: expected a Korean mobile number (010 and 8 more digits, or 011/016-019 and "
            "7-8 more), "
            f"got {len(digits)} digits"
        )
    return digits


def test_domestic_shortcut_is_a_fixed_point_of_the_old_normalisation() -> None:
    import random

    from naver_sms.domain.errors import InvalidBooking
    from naver_sms.domain.phone import normalise_phone

    def run(f, raw):  # type: ignore[no-untyped-def]
        try:
            return "ok", f(raw)
        except InvalidBooking as err:
            return "err", str(err)

    rng = random.Random(35)  # noqa: S311
    alphabet = [*"0123456789" * 4, *" -().+\t\n８０１\u200b\u00a0\u3000٠१", "82", "+82", "010", "011"]  # noqa: RUF001
    for _ in range(50_000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        if rng.random() < 0.3:
            head = rng.choice(["010", "011", "016", "017", "018", "019"])
            tail = "".join(rng.choice("0123456789") for _ in range(rng.randint(6, 9)))
            raw = head + tail + rng.choice(["", "", "\n", " ", "\u200b"])
        assert run(normalise_phone, raw) == run(_old_normalise_phone, raw), repr(raw)


CLEAN_SAMPLES = [
    "홍길동",
    "홍 길동",
    "Kim Minji",
    "\u1112\u1161\u11ab\u1100\u1173\u11af",  # 한글 decomposed (some keyboards): not NFC
    "e\u0301",  # é decomposed
    "a  b",
    " a",
    "a ",
    "김\u3164철수",
]


def test_clean_text_fast_path_takes_only_what_the_full_cleaning_keeps_as_it_is() -> None:
    """Over every code point alone and between letters, and the samples above: whenever the fast check
    says a text is clean, the full cleaning returns it unchanged (and the samples that are not clean
    are seen as such)."""
    for code in range(0x110000):
        char = chr(code)
        for raw in (char, f"a{char}b", f"가{char}"):
            if text.clean_already(raw):
                assert text._cleaned(raw) == raw, hex(code)
    for raw in CLEAN_SAMPLES:
        assert text.clean_already(raw) is (text._cleaned(raw) == raw), raw


TEMPLATES = [
    "{start:%m/%d %H:%M}",
    "{start:%Y-%m-%d %H:%M:%S}",  # %Y: left to strftime
    "{start:%a %b %d}",  # locale names: left to strftime
    "{start:%%m is %m}",
    "{start:}",
    "{start}",
    "{start!r}",
    "{start:%m}{{literal}}{service}",
    "{customer_name:>10} {start:%H시 %M분}",
    "{start:%H:%M %}",  # a lone % at the end
    "{start:%-d}",  # glibc's extension: left to strftime
]
STARTS = [
    datetime(2026, 1, 4, 11, 10, tzinfo=UTC),
    datetime(1, 1, 1, 0, 0, 0, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2026, 12, 5, 9, 5, 7, tzinfo=timezone(timedelta(hours=9))),
]


def test_templates_render_as_str_format_renders_them() -> None:
    shipped = [rule.template for rule in load_rules(REPO / "config" / "rules.yaml").rules]
    assert shipped, "config/rules.yaml has rules"
    for template in [*shipped, *TEMPLATES]:
        for start in STARTS:
            given = {"customer_name": "홍길동", "service": "커트", "start": start, "booking_id": "b"}
            assert without_strftime(template).format(**given) == template.format(**given), (template, start)


def test_only_the_portable_directives_leave_strftime() -> None:
    assert "strftime" not in without_strftime("{start:%m/%d %H:%M}")
    assert without_strftime("{start:%m/%d %H:%M}") == (
        "{start.month:02d}/{start.day:02d} {start.hour:02d}:{start.minute:02d}"
    )
    for kept in ("{start:%Y}", "{start:%a}", "{start:%-d}", "{start!r}", "{start:%H %}"):
        assert without_strftime(kept) == kept


@pytest.mark.parametrize("control", ["\x00", "\x07", "\t", "\x7f", "\x85"])
def test_a_spec_with_a_control_character_is_left_to_strftime(control: str) -> None:
    """A NUL in a spec is kept by str.format's rewrite but not by strftime: any control character leaves
    the spec to strftime, so the template renders as it did."""
    template = "{start:%m/%d" + control + " %H:%M} 예약"
    assert without_strftime(template) == template
    start = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert without_strftime(template).format(start=start) == template.format(start=start)


def _asked_one_by_one(rule: Rule, booking: Booking, now: datetime, event: EventType | None) -> bool:
    """What RuleSet.applicable answered before its table: every rule asked of every booking."""
    if booking.status is not rule.status:
        return False
    if event is None:
        if rule.sent_by is not SentBy.SCHEDULED:
            return False
    elif rule.sent_by is not SentBy.EVENTS or event not in rule.events:
        return False
    return rule.send_window.contains(booking.start, now)


def test_the_rule_sets_table_answers_as_asking_every_rule() -> None:
    """Every status, every event and none, inside and outside each window, over the shipped rules and
    rules sharing a status, listing several events, or listing none of an event's."""
    extra = {
        "timezone": "Asia/Seoul",
        "rules": [
            {
                "name": "any change",
                "key": "events/any",
                "status": "confirmed",
                "sent_by": "events",
                "events": [t.value for t in EventType],
                "send_window": {"until": "1h after start"},
                "template": "a",
            },
            {
                "name": "early",
                "key": "scheduled/early",
                "status": "confirmed",
                "sent_by": "scheduled",
                "send_window": {"from": "3d before start", "until": "2d before start"},
                "template": "b",
            },
            {
                "name": "pending",
                "key": "events/pending",
                "status": "pending",
                "sent_by": "events",
                "events": ["booking.updated"],
                "send_window": {"until": "start"},
                "template": "c",
            },
        ],
    }
    start = datetime(2026, 12, 6, 10, 30, tzinfo=timezone(timedelta(hours=9)))
    offsets = [timedelta(hours=h) for h in (-80, -60, -30, -2, 0, 0.5, 1, 2, 30)]
    for rules in (load_rules(REPO / "config" / "rules.yaml"), rules_from_mapping(extra)):
        asked = 0
        for status in BookingStatus:
            booking = Booking("bk-1", "김민수", "01012345678", "커트", start, status)
            for event in (None, *EventType):
                for offset in offsets:
                    now = start + offset
                    expected = [r for r in rules.rules if _asked_one_by_one(r, booking, now, event)]
                    assert rules.applicable(booking, now, event) == expected, (status, event, offset)
                    asked += bool(expected)
        assert asked > 10  # the windows were met, not only missed
