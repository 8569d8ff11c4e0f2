"""Smoke the worker image: beside a real nats-server, the container must become healthy, handle a
published event, log JSON, and stop with exit code 0 inside Docker's 10 s grace period.

Usage: python scripts/smoke_worker.py IMAGE[:TAG]   (run from the venv: it needs nats-py and nats-server)
Knobs: DOCKER_NETWORK (Docker's default unless `host`), NATS_URL (a running server the container can
reach, instead of starting one here).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import nats

EVENT = {
    "event_id": "smoke-1",
    "type": "booking.created",
    "occurred_at": "2026-11-24T09:00:00+09:00",
    "booking": {
        "id": "smoke-booking",
        "customer_name": "Smoke",
        "phone": "01000000000",
        "service": "check",
        "start": "2030-01-01T10:00:00+09:00",
        "status": "confirmed",
    },
}
STOP_GRACE_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise SystemExit(f"FAIL: {what} within {timeout:.0f} s")


async def publish(url: str) -> None:
    nc = await nats.connect(url)
    await nc.jetstream().publish("bookings.events", json.dumps(EVENT).encode(), stream="BOOKINGS")
    await nc.close()


def main(image: str) -> int:
    network = os.environ.get("DOCKER_NETWORK", "default")
    nats_url = os.environ.get("NATS_URL")
    server = None
    store = tempfile.mkdtemp(prefix="smoke-nats-")
    # On Docker's bridge the container reaches this machine as host.docker.internal (Docker Desktop
    # defines it; on Linux host-gateway maps it), so the throwaway server listens beyond loopback.
    reach = ["--add-host", "host.docker.internal:host-gateway"] if network != "host" else []
    if not nats_url:
        port = free_port()
        host = "127.0.0.1" if network == "host" else "host.docker.internal"
        nats_url = f"nats://{host}:{port}"
        server = subprocess.Popen(
            [
                shutil.which("nats-server") or "nats-server",
                "-js",
                "-a",
                "127.0.0.1" if network == "host" else "0.0.0.0",  # noqa: S104  (see above)
                "-p",
                str(port),
                "-sd",
                store,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    health_port = free_port()
    name = f"naver-sms-worker-smoke-{os.getpid()}"
    docker(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        network,
        *reach,
        "--env",
        f"NATS_URL={nats_url}",
        "--env",
        f"HEALTH_PORT={health_port}",
        "--health-interval",
        "1s",
        image,
    )
    try:
        print(
            f"ok   started {image} as {docker('inspect', '--format', '{{.Config.User}}', name)}",
            file=sys.stderr,
        )
        wait(
            lambda: docker("inspect", "--format", "{{.State.Health.Status}}", name) == "healthy",
            60,
            "container healthy",
        )
        print("ok   healthy", file=sys.stderr)
        asyncio.run(publish(nats_url.replace("host.docker.internal", "127.0.0.1")))
        wait(lambda: "dry run: would send" in docker("logs", name), 30, "event handled")
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
        return 0
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1]))
