"""Worker.run in this process against a real nats-server: whatever it has started when its start-up
fails (health server, connection, pull feed, background tasks, the consumer's handlers) is closed by its
one exit stack."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from naver_sms.entrypoints.worker import service
from naver_sms.entrypoints.worker.consumer import Consumer
from naver_sms.entrypoints.worker.health import HealthServer
from naver_sms.entrypoints.worker.pull import PullFeed
from naver_sms.settings import Settings
from tests.support.fake_sens import sens_env
from tests.support.nats_server import NatsServer
from tests.support.procs import repo_env


class StartUpFails(Consumer):
    """The last step of the start-up fails, after everything else has started."""

    async def consume(self) -> None:
        raise RuntimeError("planted start-up failure")


class Seen:
    """What the run started, as it started it."""

    def __init__(self) -> None:
        self.health_ports: list[int] = []
        self.feeds: list[PullFeed] = []
        self.stopped_feeds: list[PullFeed] = []


def watched(seen: Seen) -> tuple[type[HealthServer], type[PullFeed]]:
    class Health(HealthServer):
        async def start(self) -> None:
            await super().start()
            seen.health_ports.append(self.port)

    class Feed(PullFeed):
        async def start(self) -> None:
            await super().start()
            seen.feeds.append(self)

        async def stop(self, within: float) -> None:
            await super().stop(within)
            seen.stopped_feeds.append(self)

    return Health, Feed


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("dry_run", [True, False])  # a real-sending worker has its reconciler's timer too
def test_a_failure_at_start_up_closes_everything_the_run_started(
    nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    seen = Seen()
    health, feed = watched(seen)
    monkeypatch.setattr(service, "HealthServer", health)
    monkeypatch.setattr(service, "PullFeed", feed)
    monkeypatch.setattr(service, "Consumer", StartUpFails)
    env = repo_env(NATS_URL=nats_server.url, SMS_DRY_RUN=str(dry_run).lower(), HEALTH_PORT="0")
    settings = Settings.load(environ={**env, **sens_env("http://127.0.0.1:9")})  # nothing is sent
    worker = service.Worker(settings)

    async def run() -> set[asyncio.Task[Any]]:
        with pytest.raises(RuntimeError, match="planted"):
            await worker.run()
        return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    left = asyncio.run(run())
    assert left == set(), "the background tasks are cancelled and awaited"
    assert seen.stopped_feeds == seen.feeds and len(seen.feeds) == 1
    (port,) = seen.health_ports
    assert refused(port)
    assert worker._nc is not None and worker._nc.is_closed


class PullBreaks(PullFeed):
    """The first pull fails with an error consume() does not expect (not PullRefused/nats/OSError)."""

    async def pull(self, batch: int, expires: float) -> None:
        raise ValueError("planted pull failure")


def test_a_consume_failure_leaves_no_handler_task_behind(
    nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The consumer's handlers are started; the first pull fails with an error consume() does not expect.
    monkeypatch.setattr(service, "PullFeed", PullBreaks)
    settings = Settings.load(environ=repo_env(NATS_URL=nats_server.url, SMS_DRY_RUN="true", HEALTH_PORT="0"))
    worker = service.Worker(settings)

    async def run() -> list[str]:
        with pytest.raises(ValueError, match="planted"):
            await worker.run()
        left = asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]
        return sorted(str(t.get_coro().__qualname__) for t in left)  # type: ignore[union-attr]

    left = asyncio.run(run())
    assert left == [], f"tasks Worker.run started and left running after it returned: {left}"
    # Closed by the run itself: not the connection lost for good, which exits non-zero with an error.
    assert "closed for good" not in caplog.text
