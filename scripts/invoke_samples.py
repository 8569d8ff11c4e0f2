"""Invoke every sample in tests/events/ against a Lambda invoke URL and compare the bodies (the
suite's own helpers, tests/support/lambda_invoke.py). Standard library only.
Usage: python3 -m scripts.invoke_samples URL [SAMPLE ...]   (from the repository root)
"""

from __future__ import annotations

import json
import sys
import time

from tests.support.lambda_invoke import EVENTS, invoke, mismatch, smoke_samples


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    url, names = argv[0], argv[1:]
    paths = [EVENTS / f"{n}.json" for n in names] if names else smoke_samples()
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
