"""First contact: a clone with no .cache runs the README's image path as a new user types it.

`make build IMAGE=lambda && RIE_DETACH=1 make run-rie && make smoke` in a fresh clone of this commit: where
a pull fails, it makes its own stand-ins' Chrome mirror from the machine's apt sources (nothing left over
from this checkout's .cache) and serves it where build steps reach this host; where pulls work, it takes
the official base and the committed pin.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.procs import REPO, docker, free_port, need_tool, port_open, repo_env, wait_until

pytestmark = pytest.mark.docker


def make(clone: Path, target: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", target],
        cwd=clone,
        env=repo_env(**env),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_a_fresh_clone_builds_runs_and_smokes_the_lambda_image(engine: None, tmp_path: Path) -> None:
    need_tool("make")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, capture_output=True)
    assert not (clone / ".cache").exists()
    port = free_port()
    name = f"naver-sms-first-contact-{port}"
    knobs = {"IMAGE": "lambda", "RIE_PORT": str(port), "RIE_CONTAINER": name, "RIE_DETACH": "1"}
    built = make(clone, "build", **knobs)
    assert built.returncode == 0, built.stderr[-3000:]
    try:
        started = make(clone, "run-rie", **knobs)
        assert started.returncode == 0, started.stderr
        wait_until(lambda: port_open(port), 30, "the clone's RIE container")
        smoke = make(clone, "smoke", **knobs)
        assert smoke.returncode == 0, smoke.stderr
        assert " passed, 0 failed" in smoke.stderr
    finally:
        docker("rm", "--force", name, check=False)
