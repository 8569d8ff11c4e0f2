"""The handler served by `scripts/run-local.sh` (the real RIE on the host), as tests and benchmarks use it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import REPO, free_port, port_open, repo_env, wait_until


@dataclass
class Emulator:
    url: str
    sid: int
    tmp: Path


@contextlib.contextmanager
def serve(env: dict[str, str], log: Path) -> Iterator[Emulator]:
    port = free_port()
    # Short on purpose, like Lambda's /tmp: Chrome's singleton socket path must fit in 108 bytes.
    runtime_tmp = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    env = repo_env(RIE_PORT=str(port), TMPDIR=str(runtime_tmp), **env)
    process = subprocess.Popen(
        ["bash", "scripts/run-local.sh"],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        wait_until(lambda: port_open(port), 60, "run-local's RIE")
        yield Emulator(
            f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations", process.pid, runtime_tmp
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        shutil.rmtree(runtime_tmp, ignore_errors=True)
