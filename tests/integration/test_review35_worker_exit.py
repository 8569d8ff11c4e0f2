"""Review of #35 (adversarial): Worker.run's one exit stack does not own the Consumer's handler tasks.
A consume() that fails after it has started its handlers leaves them running past Worker.run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from naver_sms.entrypoints.worker import service
from naver_sms.entrypoints.worker.pull import PullFeed
from naver_sms.settings import Settings
from tests.support.nats_server import NatsServer
from tests.support.procs import repo_env


class PullBreaks(PullFeed):
    """The first pull fails with an error consume() does not expect (not PullRefused/nats/OSError)."""

    async def pull(self, batch: int, expires: float) -> None:
        raise ValueError("planted pull failure")


def test_a_consume_failure_leaves_no_handler_task_behind(
    nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
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
