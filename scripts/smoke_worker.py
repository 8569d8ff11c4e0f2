"""Smoke the worker image: beside a real nats-server, the container must become healthy, handle a
published event, log JSON, and stop with exit code 0 inside Docker's 10 s grace period.

Usage: python -m scripts.smoke_worker IMAGE[:TAG] NETWORK [COMMAND ...]   (from the repository root, in
the venv: the server, the event and the waits are the test suite's own, from tests/support). NETWORK is
Docker's (`make smoke` passes DOCKER_NETWORK); NATS_URL names a running server the container can reach,
instead of starting one here. COMMAND replaces the image's CMD (the story's `python -m src`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.nats_server import NatsServer
from tests.support.procs import docker, free_port, wait_until
from tests.support.worker import booking_event, publish, run

STOP_GRACE_SECONDS = 10


def smoke(image: str, network: str, nats_url: str, command: Sequence[str] = ()) -> None:
    # On Docker's bridge the container reaches this machine as host.docker.internal (Docker Desktop
    # defines it; on Linux host-gateway maps it).
    reach = ["--add-host", "host.docker.internal:host-gateway"] if network != "host" else []
    health_port = free_port()
    name = f"naver-sms-worker-smoke-{os.getpid()}"
    docker(
        "run", "--detach", "--name", name, "--network", network, *reach,
        "--env", f"NATS_URL={nats_url}", "--env", f"HEALTH_PORT={health_port}",
        "--health-interval", "1s", image, *command,
    )  # fmt: skip
    try:
        user = docker("inspect", "--format", "{{.Config.User}}", name)
        print(f"ok   started {image} {' '.join(command) or '(its CMD)'} as {user}", file=sys.stderr)
        health = ("inspect", "--format", "{{.State.Health.Status}}", name)
        wait_until(lambda: docker(*health) == "healthy", 60, "container healthy", interval=0.5)
        print("ok   healthy", file=sys.stderr)
        event = booking_event(1)
        run(publish(nats_url.replace("host.docker.internal", "127.0.0.1"), [json.dumps(event).encode()]))
        wait_until(lambda: "dry run: would send" in docker("logs", name), 30, "event handled", interval=0.5)
        print("ok   handled a published event (dry run)", file=sys.stderr)
        started = time.monotonic()
        docker("stop", "--time", str(STOP_GRACE_SECONDS), name)
        stop_seconds = time.monotonic() - started
        code = docker("inspect", "--format", "{{.State.ExitCode}}", name)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=True)
        lines = [line for line in (logs.stdout + logs.stderr).splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]  # raises on any non-JSON line
        if not any(r["message"] == "worker stopped" for r in records):
            raise SystemExit("FAIL: no shutdown summary logged")
        if code != "0" or stop_seconds >= STOP_GRACE_SECONDS:
            raise SystemExit(f"FAIL: docker stop took {stop_seconds:.1f} s, exit code {code}")
        print(
            f"ok   {len(records)} JSON log lines; docker stop in {stop_seconds:.1f} s, exit 0",
            file=sys.stderr,
        )
        print("4 passed, 0 failed", file=sys.stderr)
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


def main(image: str, network: str, command: Sequence[str] = ()) -> int:
    try:
        if os.environ.get("NATS_URL"):
            smoke(image, network, os.environ["NATS_URL"], command)
            return 0
        with tempfile.TemporaryDirectory(prefix="smoke-nats-") as store:
            # Beyond loopback on the bridge, so the container reaches it through the host gateway.
            server = NatsServer(Path(store), listen="127.0.0.1" if network == "host" else "0.0.0.0")  # noqa: S104
            server.start()
            try:
                host = "127.0.0.1" if network == "host" else "host.docker.internal"
                smoke(image, network, f"nats://{host}:{server.port}", command)
            finally:
                server.stop()
        return 0
    except TimeoutError as err:
        raise SystemExit(f"FAIL: {err}") from err


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
