"""A rule's template as str.format renders it, with the start's strftime read once at load.

`{start:%m/%d %H:%M}` asks datetime.__format__, which calls strftime on every message: the most of a
worker event's rendering. The same text comes from the datetime's own fields (`{start.month:02d}`…), so
a spec made only of the directives below is rewritten that way once; any other spec (another directive,
a locale's name of a day, a nested field) is left to strftime, as written.
"""

from __future__ import annotations

import re
import string
import unicodedata

# Only directives whose text is the same on every C library: zero-padded numbers and a percent sign.
_DIRECTIVES = {
    "%m": "{start.month:02d}",
    "%d": "{start.day:02d}",
    "%H": "{start.hour:02d}",
    "%M": "{start.minute:02d}",
    "%S": "{start.second:02d}",
    "%%": "%",
}
_PIECE = re.compile(r"%.|[^%{}]+", re.DOTALL)


def _fields_of(spec: str) -> str | None:
    """`spec` for {start} as fields of the datetime, or None when strftime must read it."""
    # A control character (a NUL above all) is not kept by every strftime as it is by str.format: such a
    # spec renders as strftime renders it, as before.
    if any(unicodedata.category(char) == "Cc" for char in spec):
        return None
    pieces = _PIECE.findall(spec)
    if "".join(pieces) != spec:  # a brace (a nested field) or a lone % at the end
        return None
    out = []
    for piece in pieces:
        if piece.startswith("%"):
            field = _DIRECTIVES.get(piece)
            if field is None:
                return None
            out.append(field)
        else:
            out.append(piece)
    return "".join(out)


def without_strftime(template: str) -> str:
    """The template, rendering as it does with the same keywords, without strftime where it can."""
    out = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is None:
            continue
        fast = _fields_of(spec) if field == "start" and spec and conversion is None else None
        if fast is None:
            out.append(
                "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            )
        else:
            out.append(fast)
    return "".join(out)
