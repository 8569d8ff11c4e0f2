"""Connection URLs as they may be shown: never with the user and password some of them carry."""

from __future__ import annotations

import re

# The userinfo of a URL: after `://`, or at the start of a word when the scheme is missing
# (`user:pass@host`), up to the last `@` before the host: a password may hold an `@` of its own.
_USERINFO = re.compile(r"(?:(?<=://)|(?<![^\s'\"(,=]))[^/\s'\"]*@")


def without_credentials(text: str) -> str:
    """nats://user:p@ss@host:4222 → nats://***@host:4222 (and user:pass@host → ***@host), anywhere in
    the text."""
    return _USERINFO.sub("***@", text)
