"""Customer-supplied text made safe for an SMS: no control or bidi-override characters, bounded length."""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"  # EUC-KR encodes it, so a shortened name never forces an LMS by itself

# Controls (category Cc: C0 and C1) and the line and paragraph separators (Zl, Zp) break a message's
# layout. Bidi embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069) can reorder what the
# phone shows; the marks (U+200E, U+200F, U+061C) are invisible. None belongs in a name or a service.
_STRIPPED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_SPACES = re.compile(r"\s+")
# Invisible, and removed outright (a space would split a word): every other format character (Cf: soft
# hyphen, zero-width space and joiners, word joiner, BOM, the Mongolian vowel separator, tag characters)
# and the Hangul fillers, letters that render as nothing. A name of only these looks blank on the phone,
# and one EUC-KR cannot encode turns an SMS into an LMS. Asked of unicodedata per character, so the list
# is the interpreter's Unicode version's, not one copied here.
_HANGUL_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")


class _Invisible(dict[int, str | None]):
    """str.translate's table for _visible, filled as characters are first met: None (removed) for a Cf
    character or a Hangul filler, the character itself otherwise. A name is a handful of characters from
    a small alphabet, so after the first events each one is a dict hit instead of a call into
    unicodedata. Full (_INVISIBLE_TABLE_MAX characters: a hostile name of rare ones), it starts again
    empty rather than stop learning, so one such event cannot leave every later name on the slow path."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        kept = None if char in _HANGUL_FILLERS or unicodedata.category(char) == "Cf" else char
        if len(self) >= _INVISIBLE_TABLE_MAX:
            self.clear()
        self[code] = kept
        return kept


_INVISIBLE_TABLE_MAX = 4096
_INVISIBLE = _Invisible()


def _visible(text: str) -> str:
    if text.isascii():  # no ASCII character is Cf or a filler
        return text
    return text.translate(_INVISIBLE)


def clean_text(raw: str, max_chars: int) -> str:
    """NFC (a decomposed Hangul name from some keyboards would not encode in EUC-KR), controls and
    bidi characters replaced by spaces, invisible characters removed, runs of white space folded, then
    cut to max_chars."""
    folded = raw if clean_already(raw) else _cleaned(raw)
    if len(folded) <= max_chars:
        return folded
    return folded[: max_chars - 1].rstrip() + ELLIPSIS


def clean_already(raw: str) -> bool:
    """True when _cleaned would return `raw` as it is: the common name, asked in a few C calls. A
    printable string has no control, separator but the ASCII space, format (so no bidi) or surrogate
    character, so only the Hangul fillers, NFC and the spaces are left to look at."""
    return (
        raw.isprintable()
        and "  " not in raw
        and raw[:1] != " "
        and raw[-1:] != " "
        and (raw.isascii() or (_HANGUL_FILLERS.isdisjoint(raw) and unicodedata.is_normalized("NFC", raw)))
    )


def _cleaned(raw: str) -> str:
    composed = unicodedata.normalize("NFC", raw)
    visible = _visible(_STRIPPED.sub(" ", composed))
    return _SPACES.sub(" ", visible).strip()


def shown(value: object, limit: int = 40) -> str:
    """A value quoted for an error message, never longer than `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}{ELLIPSIS} ({len(text)} chars)"
