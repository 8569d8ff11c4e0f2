"""Invoke every sample in tests/events/ against a Lambda invoke URL and compare the bodies.

RIE answers HTTP 200 even when the handler fails, so only the body tells: each sample names the
body it expects and the fields that are meant to vary (versions, timings). Standard library only.
Usage: python3 scripts/invoke_samples.py URL [SAMPLE ...]
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path

EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events"


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


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    url, names = argv[0], argv[1:]
    paths = [EVENTS / f"{n}.json" for n in names] if names else sorted(EVENTS.glob("*.json"))
    failures = 0
    for path in paths:
        sample = json.loads(path.read_text())
        started = time.monotonic()
        try:
            problem = mismatch(sample, invoke(url, sample["event"]))
        except OSError as err:
            problem = f"cannot invoke {url}: {err}"
        elapsed = time.monotonic() - started
        print(
            f"{'ok  ' if problem is None else 'FAIL'} {path.stem} ({elapsed:.2f} s)"
            + (f": {problem}" if problem else ""),
            file=sys.stderr,
        )
        failures += problem is not None
    print(f"{len(paths) - failures} passed, {failures} failed", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
