"""Connection URLs as they may be shown: never with the user and password some of them carry."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def without_credentials(text: str) -> str:
    """nats://user:pass@host:4222 → nats://***@host:4222, anywhere in the text."""
    return _USERINFO.sub("***@", text)
