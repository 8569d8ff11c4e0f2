"""Invoke a Lambda invoke URL (the RIE's, or a deployed version's) and judge a sample's answer.

RIE answers HTTP 200 even when the handler fails, so only the body tells: each sample in tests/events/
names the body it expects and the fields that are meant to vary (versions, timings). Standard library
only: `make smoke` runs it without the venv.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

EVENTS = Path(__file__).resolve().parents[1] / "events"


def smoke_samples() -> list[Path]:
    """The samples `make smoke` invokes: tests/events/*.json, not the parity set in its subfolder."""
    return sorted(EVENTS.glob("*.json"))


def smoke_summary() -> str:
    """What `make smoke` prints when every sample passes."""
    return f"{len(smoke_samples())} passed, 0 failed"


def invoke(url: str, event: object, timeout: float = 120) -> object:
    request = urllib.request.Request(
        url, data=json.dumps(event).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def mismatch(sample: dict[str, object], body: object) -> str | None:
    if not isinstance(body, dict):
        return f"body is not an object: {body!r}"
    varying = set(sample.get("varying", []))  # type: ignore[arg-type]
    missing = [name for name in varying if name not in body]
    compared = {k: v for k, v in body.items() if k not in varying}
    if compared != sample["expect"] or missing:
        return f"expected {sample['expect']!r} (+ {sorted(varying)}), got {body!r}"
    return None
