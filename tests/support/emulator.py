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

from tests.support.procs import REPO, free_port, port_open, repo_env, shell_constant, wait_until

INVOKE_PATH = shell_constant("RIE_INVOKE_PATH")


@dataclass
class Emulator:
    url: str
    sid: int
    tmp: Path
    log: Path


@contextlib.contextmanager
def serve(env: dict[str, str], log: Path, handler: str = "main.lambda_handler") -> Iterator[Emulator]:
    """run-local on a free port until the block ends; one that exits before its port opens (a taken port,
    a bad env file) fails at once with its log, not after the wait."""
    port = free_port()
    # Short on purpose, like Lambda's /tmp: Chrome's singleton socket path must fit in 108 bytes.
    runtime_tmp = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    # The repo's .env.example unless the test names a file: a developer's own .env never leaks in.
    env = repo_env(
        RIE_PORT=str(port),
        TMPDIR=str(runtime_tmp),
        HANDLER=handler,
        **{"ENV_FILE": str(REPO / ".env.example"), **env},
    )
    process = subprocess.Popen(
        ["bash", "scripts/run-local.sh"],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        wait_until(lambda: port_open(port) or process.poll() is not None, 60, "run-local's RIE")
        if process.poll() is not None:
            raise RuntimeError(f"run-local exited {process.returncode}:\n{log.read_text()}")
        yield Emulator(
            f"http://127.0.0.1:{port}{INVOKE_PATH}",
            process.pid,
            runtime_tmp,
            log,
        )
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        shutil.rmtree(runtime_tmp, ignore_errors=True)
