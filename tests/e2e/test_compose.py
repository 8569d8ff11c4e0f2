"""The local stack: `make up` to healthy, an event through NATS to the worker, the Lambda's smoke
through its published port, `make down` leaving nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.emulator import INVOKE_PATH
from tests.support.lambda_invoke import smoke_summary
from tests.support.procs import REPO, free_port, need, need_tool, wait_until
from tests.support.topology import WORKER
from tests.support.worker import booking_event

pytestmark = pytest.mark.docker
PROJECT = f"naver-sms-test-{os.getpid()}"


def compose_env(rie_port: int) -> dict[str, str]:
    # A project of its own, so the suite never touches a stack the developer has up. No image knobs:
    # `make up` takes the official NATS and moto images, or the stand-ins where they cannot be pulled.
    return {**os.environ, "COMPOSE_PROJECT_NAME": PROJECT, "RIE_PORT": str(rie_port)}


def compose(env: dict[str, str], *args: str) -> str:
    """`docker compose ARGS` for the stack in this repository; its standard output."""
    out = subprocess.run(
        ["docker", "compose", *args], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


def log_records(env: dict[str, str], service: str, *options: str) -> list[dict[str, Any]]:
    """A service's JSON log records (`docker compose OPTIONS logs SERVICE`): compose may prefix lines
    with terminal control codes, so each record starts at its brace."""
    logs = compose(env, *options, "logs", "--no-log-prefix", service)
    return [json.loads(line[line.index("{") :]) for line in logs.splitlines() if "{" in line]


def project_containers() -> list[str]:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={PROJECT}",
            "--format",
            "{{.Names}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


@contextlib.contextmanager
def running_stack(env: dict[str, str]) -> Iterator[None]:
    """`make up` until healthy, then `make down`, which must leave no container of the project."""
    up = subprocess.run(
        ["make", "up"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield
    finally:
        down = subprocess.run(
            ["make", "down"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert down.returncode == 0, down.stderr
        assert project_containers() == []


@pytest.fixture(scope="module")
def stack(images: dict[str, str]) -> Iterator[dict[str, str]]:
    need_tool("docker")
    need(
        subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0,
        "docker compose v2 (make docker-engine)",
    )
    env = compose_env(free_port())
    with running_stack(env):
        yield env


def test_every_service_is_healthy(stack: dict[str, str]) -> None:
    out = compose(stack, "ps", "--format", "json")
    services = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {s["Service"] for s in services} == {"nats", "moto", "worker", "lambda"}
    assert all(s["Health"] == "healthy" for s in services), [(s["Service"], s["Health"]) for s in services]


def test_an_event_reaches_the_worker(stack: dict[str, str]) -> None:
    # NATS is not published to the host: publish from inside the stack's network, with the worker's Python.
    code = (
        "import asyncio, json, nats\n"
        "async def main():\n"
        "    nc = await nats.connect('nats://nats:4222')\n"
        f"    await nc.jetstream().publish({WORKER.subject!r}, json.dumps({booking_event(7)!r}).encode())\n"
        "    await nc.close()\n"
        "asyncio.run(main())\n"
    )
    compose(stack, "exec", "-T", "worker", "python", "-c", code)

    def handled() -> bool:
        records = log_records(stack, "worker")
        return any(r.get("booking_id") == "bk-7" and "would send" in r["message"] for r in records)

    wait_until(handled, 30, "the worker handling the published event")


def test_lambda_smoke_through_the_published_port(stack: dict[str, str]) -> None:
    out = subprocess.run(
        ["bash", "scripts/smoke.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**stack, "IMAGE": "lambda", "SMOKE_URL": f"http://127.0.0.1:{stack['RIE_PORT']}{INVOKE_PATH}"},
    )
    assert out.returncode == 0, out.stderr
    assert smoke_summary() in out.stderr
