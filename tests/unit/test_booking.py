from __future__ import annotations

import random
import re
import unicodedata
from datetime import timedelta
from typing import Any

import pytest

from naver_sms.domain.booking import MAX_NAME_CHARS, MAX_SERVICE_CHARS, BookingStatus, booking_from_mapping
from naver_sms.domain.errors import InvalidBooking, InvalidEvent
from naver_sms.domain.events import EventType, event_from_mapping
from naver_sms.domain.phone import mask_phone, mask_phones_in
from naver_sms.domain.text import ELLIPSIS, clean_text

GOOD: dict[str, Any] = {
    "id": "b1",
    "customer_name": "Kim",
    "phone": "010-1234-5678",
    "service": "cut",
    "start": "2026-12-01T10:00:00+09:00",
    "status": "confirmed",
}


def test_valid_booking_parses() -> None:
    booking = booking_from_mapping(GOOD)
    assert booking.phone == "01012345678"
    assert booking.status is BookingStatus.CONFIRMED
    assert (booking.booking_id, booking.service, booking.start.utcoffset()) == (
        "b1",
        "cut",
        timedelta(hours=9),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": ""}, "booking.id"),
        ({"phone": "call me"}, "booking.phone"),
        ({"start": "2026-12-01T10:00:00"}, "needs a time zone"),
        ({"start": "tomorrow"}, "not ISO-8601"),
        ({"start": 5}, "booking.start"),
        ({"status": "maybe"}, "booking.status"),
        ({"customer_name": None}, "booking.customer_name"),
    ],
)
def test_bad_booking_names_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidBooking, match=message):
        booking_from_mapping({**GOOD, **change})


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("010-1234-5678", "01012345678"),
        (" 010 1234 5678 ", "01012345678"),
        ("(010) 1234.5678", "01012345678"),
        ("+82 10-1234-5678", "01012345678"),
        ("+82 010-1234-5678", "01012345678"),
        ("821012345678", "01012345678"),
        ("011-123-4567", "0111234567"),
    ],
)
def test_phone_is_normalised_to_domestic_ascii_digits(raw: str, phone: str) -> None:
    assert booking_from_mapping({**GOOD, "phone": raw}).phone == phone


@pytest.mark.parametrize(
    "raw",
    [
        "".join(
            chr(0xFF10 + int(d)) for d in "01012345678"
        ),  # fullwidth digits are Unicode \d, not something SENS takes
        "".join(chr(0x0660 + int(d)) for d in "01012345678"),  # Arabic-Indic digits
        "010-1234\n-5678",
        "010\u200b1234\u20095678",  # zero-width and thin spaces
        "+1 415 555 0100",  # not a Korean number
        "02-123-4567",  # a Seoul landline cannot receive SMS
        "010-1234-56789",
        "010-123",
        "+",
        "1" * 10_000,
    ],
)
def test_phone_that_is_not_a_korean_mobile_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(InvalidBooking, match=r"booking\.phone") as caught:
        booking_from_mapping({**GOOD, "phone": raw})
    digits_only = "".join(ch for ch in raw if ch.isdigit())
    assert len(digits_only) < 4 or digits_only not in str(caught.value)
    assert len(str(caught.value)) < 200


def test_mask_phone_keeps_prefix_and_last_four() -> None:
    assert mask_phone("01012345678") == "010****5678"
    assert mask_phone("0111234567") == "011***4567"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("김\u202e민수", "김 민수"),  # right-to-left override
        ("\u2066Kim\u2069 Lee", "Kim Lee"),
        ("Kim\r\nLee\x00\x85", "Kim Lee"),  # CR/LF, NUL and the C1 NEL
        ("Kim\u2028Lee", "Kim Lee"),
        ("  Kim \t  Lee ", "Kim Lee"),
        ("\u1100\u1161\u11a8", "각"),  # decomposed Hangul (some keyboards) composed so EUC-KR encodes it
    ],
)
def test_names_lose_control_and_bidi_characters(raw: str, clean: str) -> None:
    assert booking_from_mapping({**GOOD, "customer_name": raw}).customer_name == clean


def test_huge_name_and_service_are_capped() -> None:
    booking = booking_from_mapping({**GOOD, "customer_name": "가" * 1_000_000, "service": "x" * 500})
    assert booking.customer_name == "가" * (MAX_NAME_CHARS - 1) + ELLIPSIS
    assert len(booking.service) == MAX_SERVICE_CHARS


def test_a_name_of_only_controls_is_refused() -> None:
    with pytest.raises(InvalidBooking, match=r"booking\.customer_name: nothing printable"):
        booking_from_mapping({**GOOD, "customer_name": "\u202e\r\n"})


@pytest.mark.parametrize("booking_id", ["b 1", "예약1", "x" * 129, "b\n1", 7])
def test_booking_id_is_bounded_printable_ascii(booking_id: object) -> None:
    with pytest.raises(InvalidBooking, match=r"booking\.id: expected 1-128 printable ASCII"):
        booking_from_mapping({**GOOD, "id": booking_id})


def test_errors_quote_at_most_a_bounded_excerpt() -> None:
    with pytest.raises(InvalidBooking) as caught:
        booking_from_mapping({**GOOD, "start": "x" * 100_000})
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00"])
def test_start_that_overflows_in_utc_is_refused(start: str) -> None:
    with pytest.raises(InvalidBooking, match="out of range in UTC"):
        booking_from_mapping({**GOOD, "start": start})


@pytest.mark.parametrize("start", ["9999-12-31T11:59:59-12:00", "0001-01-01T01:00:00+01:00"])
def test_start_in_the_edge_years_that_stays_in_range_is_kept(start: str) -> None:
    assert booking_from_mapping({**GOOD, "start": start}).start.isoformat() == start


def test_event_parses() -> None:
    event = event_from_mapping(
        {
            "event_id": "e1",
            "type": "booking.created",
            "occurred_at": "2026-11-24T09:00:00+09:00",
            "booking": GOOD,
        }
    )
    assert event.type is EventType.CREATED
    assert event.booking.booking_id == "b1"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("text", "expected a JSON object"),
        ({"type": "booking.created"}, "event.event_id"),
        ({"event_id": "e", "type": "booking.moved"}, "event.type"),
        ({"event_id": "e", "type": "booking.created", "occurred_at": "now"}, "event.occurred_at"),
        (
            {
                "event_id": "e",
                "type": "booking.created",
                "occurred_at": "2026-11-24T09:00:00+09:00",
                "booking": {**GOOD, "phone": ""},
            },
            "booking.phone",
        ),
    ],
)
def test_bad_event_names_the_field(event: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        event_from_mapping(event)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call 010-1234-5678 now", "call 010****5678 now"),
        ("to=01012345678,", "to=010****5678,"),
        ("+82 10-1234-5678", "010****5678"),
        ("011 123 4567", "011***4567"),
        ("key a01012345678f stays", "key a01012345678f stays"),
        ("order 20261201123456 stays", "order 20261201123456 stays"),
    ],
)
def test_phone_numbers_in_free_text_are_masked(text: str, masked: str) -> None:
    assert mask_phones_in(text) == masked


# The masking pattern as it reads naturally; phone.py's is rearranged to scan faster (it masks every log
# value) and must find exactly the same numbers.
_SEP = r"[ \t\-.()]*"
READABLE_MOBILE = re.compile(
    rf"(?<![0-9A-Za-z])(?:(?:\+{_SEP})?8{_SEP}2{_SEP}(?:0{_SEP})?|0{_SEP})"
    rf"1{_SEP}([016789])((?:{_SEP}[0-9]){{7,8}})(?![0-9A-Za-z])"
)


def test_the_fast_phone_mask_finds_what_the_readable_pattern_finds() -> None:
    pieces = [
        "010",
        "011",
        "+82",
        "82",
        "+82 ",
        "82-0",
        "(0)",
        "0",
        "+8210",
        "8201",
        "a",
        "Z",
        "9",
        "-",
        " ",
        "가",
    ]
    rng = random.Random(7)  # noqa: S311  (reproducible test strings, not secrets)
    for _ in range(20_000):
        text = "".join(
            rng.choice(pieces) + "".join(rng.choice("0123456789 -.()\t") for _ in range(rng.randint(0, 9)))
            for _ in range(rng.randint(1, 6))
        )
        expected = READABLE_MOBILE.sub(lambda m: mask_phone("01" + m[1] + re.sub(r"[^0-9]", "", m[2])), text)
        assert mask_phones_in(text) == expected, text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("(010) 1234-5678", "(010****5678"),
        ("+82 (0)10-1234-5678", "010****5678"),
        ("010  1234  5678", "010****5678"),
        ("010\t1234\t5678", "010****5678"),
        ("0 1 0 - 1 2 3 4 - 5 6 7 8", "010****5678"),
    ],
)
def test_every_way_normalise_phone_reads_a_number_is_masked(text: str, masked: str) -> None:
    assert mask_phones_in(text) == masked


def test_exactly_controls_separators_and_bidi_marks_become_spaces() -> None:
    """The one regex in text.py against the Unicode categories it stands for, character by character."""
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
    for code in range(0x3000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        becomes_space = clean_text(f"a{char}b", 10) == "a b"
        expected = char in bidi or unicodedata.category(char) in ("Cc", "Zl", "Zp") or char.isspace()
        assert becomes_space is expected, hex(code)


INVISIBLE = [
    "\ufeff",  # byte order mark / zero-width no-break space
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\u2060",  # word joiner
    "\u00ad",  # soft hyphen
    "\u180e",  # Mongolian vowel separator
    "\U000e0041",  # tag latin capital A
    "\U000e007f",  # cancel tag
    "\u115f",  # Hangul choseong filler
    "\u1160",  # Hangul jungseong filler
    "\u3164",  # Hangul filler
    "\uffa0",  # halfwidth Hangul filler
]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_are_removed_from_names(char: str) -> None:
    assert booking_from_mapping({**GOOD, "customer_name": f"김{char}철수{char}"}).customer_name == "김철수"


def test_a_name_of_only_invisible_characters_is_refused() -> None:
    with pytest.raises(InvalidBooking, match=r"booking\.customer_name: nothing printable"):
        booking_from_mapping({**GOOD, "customer_name": "".join(INVISIBLE)})


def test_every_format_character_is_removed_whatever_the_unicode_version() -> None:
    """Against unicodedata's own categories, over the whole code space: every Cf goes, or becomes a space."""
    for code in range(0x110000):
        char = chr(code)
        if unicodedata.category(char) == "Cf":
            assert clean_text(f"a{char}b", 10) in ("ab", "a b"), hex(code)


@pytest.mark.parametrize("raw", ["0101234567", "010-123-4567", "+82 10-123-4567"])
def test_a_010_number_needs_eleven_digits(raw: str) -> None:
    with pytest.raises(InvalidBooking, match=r"booking\.phone: expected a Korean mobile number"):
        booking_from_mapping({**GOOD, "phone": raw})


@pytest.mark.parametrize("raw", ["011-123-4567", "016-1234-5678", "0191234567"])
def test_the_older_ranges_still_take_ten_or_eleven_digits(raw: str) -> None:
    assert booking_from_mapping({**GOOD, "phone": raw}).phone == raw.replace("-", "")
