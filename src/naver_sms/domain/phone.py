"""Korean mobile numbers, normalised to the domestic form SENS v2 takes in `to` (its countryCode
defaults to 82): ASCII digits only, `+82`/`82` replaced by the leading 0.

Error messages never repeat the number: it is personal data and they reach logs and alerts.
"""

from __future__ import annotations

import re

from naver_sms.domain.errors import InvalidBooking

_SEPARATORS = re.compile(r"[ \-().]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
# 010 numbers have 11 digits; the older 011/016/017/018/019 ranges also have 10.
_MOBILE = re.compile(r"010[0-9]{8}|01[16789][0-9]{7,8}")
_COUNTRY = "82"


def normalise_phone(raw: str) -> str:
    if _MOBILE.fullmatch(raw):  # already in the domestic form: every step below would keep it as it is
        return raw
    compact = _SEPARATORS.sub("", raw.strip())
    international = compact.startswith("+")
    digits = compact.removeprefix("+")
    if not _ASCII_DIGITS.fullmatch(digits):
        raise InvalidBooking(
            f"booking.phone: expected ASCII digits 0-9 with optional spaces, '-', '.', '()' and a "
            f"leading '+'; got {len(raw)} characters with other ones"
        )
    if international and not digits.startswith(_COUNTRY):
        raise InvalidBooking("booking.phone: only Korean numbers (+82) can be sent to")
    if digits.startswith(_COUNTRY):
        # A domestic number starts with 0, so a leading 82 is the country code, "+" or not;
        # "+82 10-…" and the common "+82 010-…" both mean the domestic "010…".
        digits = "0" + digits.removeprefix(_COUNTRY).removeprefix("0")
    if not _MOBILE.fullmatch(digits):
        raise InvalidBooking(
            "booking.phone: expected a Korean mobile number (010 and 8 more digits, or 011/016-019 and "
            "7-8 more), "
            f"got {len(digits)} digits"
        )
    return digits


def mask_phone(phone: str) -> str:
    """010****5678: enough to tell two customers apart in a log, not enough to call them."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# A Korean mobile number as people write it, in the grammar normalise_phone accepts: its separators
# (space, tab, '-', '.', '(', ')') anywhere between the digits, `+82`/`82` with or without the 0 (also as
# `(0)`), so 010-1234-5678, (010) 1234-5678, 010  1234  5678, +82 (0)10-1234-5678. Not inside a word:
# hex keys and ids keep their digits. Every log value is masked with it, so it opens with a character
# class (re then skips to the places a number can start) and looks behind from there.
_SEP = r"[ \t\-.()]*"
_WRITTEN_MOBILE = re.compile(
    rf"[+80](?<![0-9A-Za-z][+80])"
    rf"(?:(?<=\+){_SEP}8{_SEP}2{_SEP}(?:0{_SEP})?|(?<=8){_SEP}2{_SEP}(?:0{_SEP})?|(?<=0){_SEP})"
    rf"1{_SEP}([016789])((?:{_SEP}[0-9]){{7,8}})(?![0-9A-Za-z])"
)
_NOT_DIGITS = re.compile(r"[^0-9]")


def _masked(match: re.Match[str]) -> str:
    return mask_phone("01" + match[1] + _NOT_DIGITS.sub("", match[2]))


def mask_phones_in(text: str) -> str:
    """Every Korean mobile number in free text (an error, a payload excerpt) masked like mask_phone."""
    return _WRITTEN_MOBILE.sub(_masked, text)


def mask_phones_within(value: object) -> object:
    """mask_phones_in over every string in a JSON-like value, before it is encoded: an encoder's escapes
    (`\\n`, `\\t`) would otherwise glue a number to a letter and hide it from the mask."""
    if isinstance(value, str):
        return mask_phones_in(value)
    if isinstance(value, dict):
        return {key: mask_phones_within(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_phones_within(item) for item in value]
    return value
