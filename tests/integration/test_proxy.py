"""The SENS transport through an HTTPS proxy (HTTPS_PROXY, read once when the transport is built): what a
proxy's failure says about the SMS. A proxy that refuses or drops the CONNECT, or cannot be reached,
means the request never left: not delivered, a later try may send. A proxy that drops the tunnel after
SENS has the request leaves the outcome unknown: never resent."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.application.errors import NotDelivered, OutcomeUnknown
from naver_sms.application.send_policy import SendPolicy
from naver_sms.domain.messages import PlannedMessage
from tests.support import fake_sens as sens_fake
from tests.support.fake_sens import FakeSens
from tests.support.procs import REPO
from tests.support.refusing_proxy import LocalTls, RefusingProxy, local_tls, serve_tls

CREDS = SensCredentials(sens_fake.ACCESS_KEY, sens_fake.SECRET_KEY, sens_fake.SERVICE_ID, sens_fake.SENDER)
MESSAGE = PlannedMessage("r", "b", "01012345678", "hi", "k")
QUICK = SendPolicy(timeout=2.0, max_attempts=3, backoff=0.01, max_retry_after=2.0)
# Never resolved here: only the proxy is asked for it, and it opens no tunnel.
SENS_BEHIND_PROXY = "https://sens.apigw.ntruss.invalid"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture
def through(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield


def send_through(proxy_url: str, monkeypatch: pytest.MonkeyPatch, endpoint: str = SENS_BEHIND_PROXY) -> str:
    monkeypatch.setenv("HTTPS_PROXY", proxy_url)

    async def once() -> str:
        sender = SensTransport(endpoint, CREDS, QUICK, pool_size=1)
        try:
            return await sender.send(MESSAGE)
        finally:
            await sender.close()

    return asyncio.run(once())


@pytest.mark.parametrize("status", [403, 407])
def test_a_proxy_refusing_the_connect_is_not_delivered(
    through: None, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    with RefusingProxy("refuse", status=status) as proxy:
        with pytest.raises(NotDelivered, match="not reached after 3 attempts") as caught:
            send_through(proxy.url, monkeypatch)
    assert f"the proxy refused a tunnel to SENS: HTTP {status} Refused" in str(caught.value)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert proxy.state.connects == ["sens.apigw.ntruss.invalid:443"] * 3  # each attempt asked, none passed


def test_a_proxy_hanging_up_on_the_connect_is_not_delivered(
    through: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RefusingProxy("hang_up") as proxy:
        with pytest.raises(NotDelivered, match="connection lost before sending to SENS"):
            send_through(proxy.url, monkeypatch)
    assert len(proxy.state.connects) == 3


def test_a_proxy_nobody_listens_on_is_not_delivered(through: None, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        port = sock.getsockname()[1]
        with pytest.raises(NotDelivered, match="cannot connect to the proxy for SENS"):
            send_through(f"http://127.0.0.1:{port}", monkeypatch)


# The far end of a tunnel speaks TLS, and aiohttp builds its trust store when it is imported: the send
# runs in a process of its own that trusts the test CA (SSL_CERT_FILE), as a real one trusts SENS's.
SEND = """
import asyncio, json, sys
from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.application.errors import DeliveryError
from naver_sms.application.send_policy import SendPolicy
from naver_sms.domain.messages import PlannedMessage
from tests.support import fake_sens as f

async def main():
    creds = SensCredentials(f.ACCESS_KEY, f.SECRET_KEY, f.SERVICE_ID, f.SENDER)
    sender = SensTransport(sys.argv[1], creds, SendPolicy(3.0, 3, 0.01, 2.0), pool_size=1)
    try:
        return {"sent": await sender.send(PlannedMessage("r", "b", "01012345678", "hi", "k"))}
    except DeliveryError as err:
        return {"error": type(err).__name__, "message": str(err)}
    finally:
        await sender.close()

print(json.dumps(asyncio.run(main())))
"""


@pytest.fixture
def tls(tmp_path: Path) -> LocalTls:
    return local_tls(tmp_path)


@pytest.fixture
def tls_sens(tls: LocalTls) -> Iterator[tuple[FakeSens, str]]:
    server = FakeSens()
    url = serve_tls(server, tls)
    with server:
        yield server, url


def send_in_a_process(endpoint: str, proxy_url: str, tls: LocalTls) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in PROXY_VARIABLES}
    env |= {
        "HTTPS_PROXY": proxy_url,
        "SSL_CERT_FILE": str(tls.ca_file),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", SEND, endpoint],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def test_a_tunnel_through_the_proxy_delivers(tls: LocalTls, tls_sens: tuple[FakeSens, str]) -> None:
    sens, url = tls_sens
    with RefusingProxy("tunnel") as proxy:
        result = send_in_a_process(url, proxy.url, tls)
    assert "sent" in result, result
    assert proxy.state.connects == [url.removeprefix("https://")]
    assert len(sens.state.sent) == 1 and sens.state.rejected_signatures == 0


def test_a_tunnel_cut_after_sens_has_the_request_stays_unknown(
    tls: LocalTls, tls_sens: tuple[FakeSens, str]
) -> None:
    sens, url = tls_sens
    sens.state.delay_seconds = 1.0  # SENS takes its time to answer; the proxy dies first
    with RefusingProxy("tunnel") as proxy:
        proxy.state.cut_when = lambda: sens.state.received >= 1
        result = send_in_a_process(url, proxy.url, tls)
    assert result["error"] == "OutcomeUnknown", result
    assert result["message"].startswith("connection to SENS lost after sending")
    assert proxy.state.cuts == 1 and len(proxy.state.connects) == 1, "never resent"
    assert sens.state.received == 1
