"""Helpers for the real servers and programs the tests start."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from naver_sms.settings.env import ENV_TO_KEY
from tests.support.proctree import read_process

REPO = Path(__file__).resolve().parents[2]


def project_version() -> str:
    """The one version: pyproject.toml's, which the package metadata carries in every layout."""
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


IN_CI = os.environ.get("CI") == "true"


def need(condition: bool, why: str) -> None:
    """Skip locally with the reason; in CI a missing tool is a failure, never a skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {why}")
    pytest.skip(why)


def need_tool(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed")
    assert path is not None
    return path


def need_root(why: str, probe: list[str] | None = None) -> None:
    """A test that needs root (or the privilege `probe`, a command that succeeds when it is there): outside CI
    without it, skipped saying so; CI runs the suite as root, so there it runs, and lacking it fails."""
    if os.geteuid() == 0:
        return
    if probe is not None and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return
    need(False, f"needs root ({why})")


def shell_constant(name: str) -> str:
    """A constant the scripts name once, in scripts/lib/knobs.sh (NAME="value"), read from there."""
    knobs = (REPO / "scripts" / "lib" / "knobs.sh").read_text()
    match = re.search(rf'^{name}="([^"$]*)"$', knobs, re.MULTILINE)
    if match is None:
        raise KeyError(f"{name} is not a constant in scripts/lib/knobs.sh")
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready within {timeout} s")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serving(
    command: list[str], ready_url: str, what: str, timeout: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process for the length of a `with` block, once ready_url answers 200."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: http_ok(ready_url), timeout, what)
        yield process
    finally:
        stop(process)


@contextlib.contextmanager
def frozen(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """A server that answers nothing while inside, as one whose cluster moves a leader; on leaving, it
    goes on with what clients sent meanwhile, so it may store writes their senders already gave up on."""
    process.send_signal(signal.SIGSTOP)
    try:
        # The stop lands once the process is next scheduled; a busy machine lets it answer meanwhile.
        wait_until(lambda: read_process(process.pid).state == "T", 10, "the server stopped")
        yield
    finally:
        process.send_signal(signal.SIGCONT)


def docker(*args: str, check: bool = True) -> str:
    """The docker CLI's standard output, stripped; a failing command raises unless check is False."""
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300, check=check)
    return out.stdout.strip()


def _bash(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def script(name: str, **env: str) -> subprocess.CompletedProcess[str]:
    return _bash(f"scripts/{name}", env=env)


def offline_lib(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`code` after sourcing scripts/lib.sh and scripts/offline/lib.sh: their helpers, called as the
    scripts call them."""
    return _bash("-c", f"source scripts/lib.sh && source scripts/offline/lib.sh && {code}", env=env)


def script_value(name: str) -> str:
    """A variable as the scripts see it, after sourcing scripts/lib.sh."""
    value = offline_lib(f'printf %s "${name}"').stdout
    assert value, f"{name} is empty in the scripts"
    return value


def repo_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: this process's, minus settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_KEY}
    env.update(extra)
    return env


def dirty_tree(root: Path = REPO) -> bool:
    """Whether a tracked file of the checkout (or clone) at `root` differs from its commit."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return bool(status.stdout)
