"""The test layers keep their promise: the unit layer needs nothing but Python."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.procs import REPO, need_root, need_tool


def collected(layer: str) -> int:
    """How many tests pytest finds in `layer`: the count the run below must pass, read from the source."""
    found = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", layer],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    count = re.search(r"^(\d+) tests? collected", found.stdout, re.MULTILINE)
    assert count is not None, found.stdout[-2000:]
    return int(count.group(1))


def test_the_unit_layer_passes_with_networking_disabled() -> None:
    unshare = need_tool("unshare")
    # A network namespace takes root (or CAP_SYS_ADMIN); the probe finds out without guessing which.
    need_root("unshare --net", probe=[unshare, "--net", "true"])
    expected = collected("tests/unit")
    result = subprocess.run(
        [unshare, "--net", sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/unit"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed is not None and int(passed.group(1)) == expected > 0
    assert "skipped" not in result.stdout
