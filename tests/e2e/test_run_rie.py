"""`make run-rie` (scripts/run-rie.sh) as a developer runs it: the env file's settings with the shell's
winning, no secret on the printed command line, detached then smoked, and a taken port refused at once."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.lambda_invoke import smoke_summary
from tests.support.procs import (
    REPO,
    docker,
    free_port,
    need,
    port_open,
    repo_env,
    shell_constant,
    wait_until,
)

SECRET = "s3cr3t-from-the-shell-never-printed"


@dataclass
class Started:
    name: str
    port: int
    output: str  # what run-rie printed, the echoed `docker run` included


def run_rie(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/run-rie.sh"],
        cwd=REPO,
        env=repo_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def started(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """The repo's .env.example plus a probe variable, with LOG_LEVEL and the probe also set in the shell."""
    env_file = tmp_path_factory.mktemp("run-rie") / "local.env"
    env_file.write_text((REPO / ".env.example").read_text() + "RUN_RIE_PROBE=from-the-file\n")
    port = free_port()
    name = f"naver-sms-run-rie-test-{port}"
    result = run_rie(
        ENV_FILE=str(env_file),
        RIE_DETACH="1",
        RIE_CONTAINER=name,
        RIE_PORT=str(port),
        LOG_LEVEL="DEBUG",
        RUN_RIE_PROBE=SECRET,
    )
    try:
        assert result.returncode == 0, result.stderr
        wait_until(lambda: port_open(port), 30, "the RIE in the container")
        yield Started(name, port, result.stdout + result.stderr)
    finally:
        docker("rm", "--force", name, check=False)


def container_env(name: str) -> dict[str, str]:
    """The environment the container's first process (the emulator) runs with: what the handler gets."""
    environ = docker("exec", name, "cat", "/proc/1/environ")
    return dict(item.split("=", 1) for item in environ.split("\0") if "=" in item)


def test_a_variable_set_in_the_shell_wins_over_the_env_file(started: Started) -> None:
    env = container_env(started.name)
    assert env["LOG_LEVEL"] == "DEBUG"  # the file says INFO
    assert env["RUN_RIE_PROBE"] == SECRET
    assert env["APP_ENV"] == "local"  # the file's, the shell not setting it


def test_the_shells_values_are_passed_by_name_only(started: Started) -> None:
    assert "--env LOG_LEVEL " in started.output and "--env RUN_RIE_PROBE " in started.output
    assert SECRET not in started.output
    assert "DEBUG" not in started.output


def test_detached_then_smoked(started: Started) -> None:
    """The README's `RIE_DETACH=1 make run-rie` then `make smoke`."""
    smoke = subprocess.run(
        ["bash", "scripts/smoke.sh"],
        cwd=REPO,
        env=repo_env(IMAGE="lambda", RIE_PORT=str(started.port)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert smoke.returncode == 0, smoke.stderr
    assert smoke_summary() in smoke.stderr


def hold(port: int) -> socket.socket:
    """A listener on 127.0.0.1:port (0: any free port)."""
    holder = socket.socket()
    # As run-rie's own check binds (and Go's listen): a connection of an earlier test's emulator still in
    # TIME_WAIT on the port does not make it taken.
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


@pytest.mark.parametrize(
    ("network", "knob"),
    [
        ("default", "RIE_PORT={port}"),
        ("host", "DOCKER_NETWORK=host: the image's emulator listens there"),
    ],
)
def test_a_taken_port_fails_at_once_naming_it(images: dict[str, str], network: str, knob: str) -> None:
    wanted = 0 if network == "default" else int(shell_constant("RIE_IMAGE_PORT"))
    # Held by this test: another engineer's host-network container may let go of it mid-test.
    need(not port_open(wanted), f"port {wanted} is busy; this test must be the one holding it")
    with hold(wanted) as holder:
        port = holder.getsockname()[1] if network == "default" else wanted
        began = time.monotonic()
        result = run_rie(RIE_PORT=str(port), DOCKER_NETWORK=network, RIE_CONTAINER=f"naver-sms-taken-{port}")
        elapsed = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert f"127.0.0.1:{port} is already in use ({knob.format(port=port)}" in result.stderr
    assert "docker run" not in result.stderr
    # Seconds, not the emulator's panic after a container start; run-rie asks the (shared, maybe busy)
    # engine for the image first, hence the margin.
    assert elapsed < 15, f"took {elapsed:.1f} s"
