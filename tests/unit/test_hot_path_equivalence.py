"""The worker's fast paths answer as the slow code they replaced: JetStream ids as nats-py reads them,
the invisible-character table under a hostile name, a domestic phone number as the full normalisation
gives it."""

from __future__ import annotations

import unicodedata

import pytest
from nats.aio.msg import Msg

from naver_sms.domain import text
from naver_sms.entrypoints.worker.handler import _jetstream


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
