"""A stand-in for Naver Cloud SENS: checks the v2 signature like the real API, counts sends, and lists
and reads back what it accepted (tests/support/fake_sens_records.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.fake_sens_records import SensRecords
from tests.support.http_server import LocalHttpServer, QuietHandler

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
SERVICE_ID = "ncp:sms:kr:1234:test"
SENDER = "0212345678"
MESSAGES_PATH = f"/sms/v2/services/{SERVICE_ID}/messages"


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | bytes  # bytes: sent as they are (an answer that is not SENS's JSON)
    retry_after: tuple[str, ...] = ()  # one Retry-After header per value


@dataclass
class SensState:
    sent: list[dict[str, Any]] = field(default_factory=list)
    rejected_signatures: int = 0
    fail_next: int = 0
    fail_status: int = 503
    fail_body: dict[str, Any] | bytes = field(default_factory=lambda: {"error": "injected"})
    retry_after: tuple[str, ...] = ()  # Retry-After headers sent with each injected failure
    drop_next: int = 0  # accept (and count as sent) this many, then hang up without answering
    delay_seconds: float = 0.0  # how long a valid request hangs before it is answered
    # > 0: the answer (to a send it accepted) goes out one byte at a time, this many seconds apart, from
    # its status line on, or from its body on when trickle_body_only: a server that never stops sending
    trickle_seconds: float = 0.0
    trickle_body_only: bool = False
    received: int = 0
    in_flight: int = 0  # received, not yet answered
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    records: SensRecords = field(default_factory=SensRecords)  # the read side: what was accepted

    def per_recipient(self) -> Counter[str]:
        return Counter(m["messages"][0]["to"] + "|" + m["content"] for m in self.sent)

    def report(self) -> Reply:
        """What was sent, for a test outside this process (the fake running in a container)."""
        with self.lock:
            return Reply(
                200,
                {
                    "received": self.received,
                    "in_flight": self.in_flight,
                    "sent": sorted(self.per_recipient().elements()),
                },
            )

    def receive(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[bool, dict[str, Any]]:
        """A send arrives: (its signature is valid, its JSON body). Answered by `answer` after the delay."""
        signature_ok = path == MESSAGES_PATH and signed(headers, "POST", path)
        with self.lock:
            self.received += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        return signature_ok, json.loads(body)

    def answer(self, signature_ok: bool, body: dict[str, Any]) -> Reply | None:
        """The reply to a received send; None: hang up without one (after counting it as sent)."""
        with self.lock:
            self.in_flight -= 1
            if not signature_ok:
                self.rejected_signatures += 1
                return Reply(401, {"error": "signature"})
            if self.fail_next > 0:
                self.fail_next -= 1
                return Reply(self.fail_status, self.fail_body, self.retry_after)
            self.sent.append(body)
            request_id = uuid.uuid4().hex
            for recipient in body["messages"]:
                self.records.accept(recipient["to"], body["content"], request_id=request_id)
            if self.drop_next > 0:
                self.drop_next -= 1
                return None
        return Reply(202, {"requestId": request_id, "statusCode": "202", "statusName": "success"})

    def read(self, path: str, headers: Mapping[str, str]) -> Reply:
        """A GET of the messages path (`path` with its raw query): signed like a send, over the query too."""
        if not path.startswith(MESSAGES_PATH) or not signed(headers, "GET", path):
            with self.lock:
                self.rejected_signatures += 1
            return Reply(401, {"error": "signature"})
        return Reply(*self.records.read(path))


def signed(headers: Mapping[str, str], method: str, path: str) -> bool:
    timestamp = headers.get("x-ncp-apigw-timestamp", "")
    return headers.get("x-ncp-iam-access-key") == ACCESS_KEY and hmac.compare_digest(
        headers.get("x-ncp-apigw-signature-v2", ""), expected_signature(path, timestamp, method)
    )


def expected_signature(path: str, timestamp: str, method: str = "POST") -> str:
    message = f"{method} {path}\n{timestamp}\n{ACCESS_KEY}".encode()
    return base64.b64encode(hmac.new(SECRET_KEY.encode(), message, hashlib.sha256).digest()).decode()


def _handler(state: SensState) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real API: a client reuses its connections
        # One write per answer, sent at once: headers and body in separate segments would meet the
        # client's delayed ACK and cost 40 ms per request on a kept-alive connection.
        wbufsize = -1
        disable_nagle_algorithm = True

        def _trickle(self, data: bytes) -> None:
            head = (
                f"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            if state.trickle_body_only:
                self.wfile.write(head)
                head = b""
            try:
                for byte in head + data:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(state.trickle_seconds)
            except OSError:
                pass  # the client gave up and cut the connection
            self.close_connection = True

        def _reply(self, reply: Reply) -> None:
            raw = isinstance(reply.body, bytes)
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            if state.trickle_seconds and reply.status == 202:
                self._trickle(data)
                return
            self.send_response(reply.status)
            for value in reply.retry_after:
                self.send_header("Retry-After", value)
            self.send_header("Content-Type", "text/html" if raw else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.startswith("/sms/"):
                self._reply(state.read(self.path, self.headers))
                return
            self._reply(state.report())

        def do_POST(self) -> None:
            answer_at = time.monotonic() + state.delay_seconds  # the delay includes our own work
            length = int(self.headers.get("Content-Length", 0))
            received = state.receive(self.path, self.headers, self.rfile.read(length))
            time.sleep(max(0.0, answer_at - time.monotonic()))
            reply = state.answer(*received)
            if reply is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._reply(reply)

    return Handler


class FakeSens(LocalHttpServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SensState()
        super().__init__(_handler(self.state), host, port)

    def env(self) -> dict[str, str]:
        return sens_env(self.url)


def reported_sends(url: str) -> Counter[str]:
    """What a fake in another process or container was sent (its GET report), per recipient and text."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/", timeout=5) as answer:
        return Counter(json.load(answer)["sent"])


def sens_env(url: str) -> dict[str, str]:
    """The settings that point the SMS transport at a fake listening at `url`."""
    return {
        "SENS_ENDPOINT": url,
        "SENS_ACCESS_KEY": ACCESS_KEY,
        "SENS_SECRET_KEY": SECRET_KEY,
        "SENS_SERVICE_ID": SERVICE_ID,
        "SENS_SENDER": SENDER,
    }


async def serve(delay_seconds: float, port: int) -> None:
    """The same fake on an event loop, for a process of its own (a container, the benchmark): a delay
    holds no thread, so many sends at a time are answered on time. Says where it listens on stdout."""
    from aiohttp import web

    state = SensState(delay_seconds=delay_seconds)

    def respond(reply: Reply) -> web.Response:
        headers = [("Retry-After", value) for value in reply.retry_after]
        if isinstance(reply.body, bytes):
            return web.Response(body=reply.body, status=reply.status, headers=headers)
        return web.json_response(reply.body, status=reply.status, headers=headers)

    async def report(request: web.Request) -> web.Response:
        return respond(state.report())

    async def read(request: web.Request) -> web.Response:
        return respond(state.read(request.raw_path, request.headers))

    async def send(request: web.Request) -> web.StreamResponse:
        answer_at = asyncio.get_running_loop().time() + state.delay_seconds
        received = state.receive(request.path, request.headers, await request.read())
        # The loop's timers wake in whole milliseconds, rounded up: aim one early to answer on time.
        await asyncio.sleep(max(0.0, answer_at - asyncio.get_running_loop().time() - 0.001))
        reply = state.answer(*received)
        if reply is None:
            assert request.transport is not None
            request.transport.close()
            return web.Response()  # never written: the connection is gone
        return respond(reply)

    async def set_delay(request: web.Request) -> web.Response:
        # A test outside the process holds the sends it makes next (`PUT /control/delay` {"seconds": N}).
        state.delay_seconds = float((await request.json())["seconds"])
        return web.json_response({"delay_seconds": state.delay_seconds})

    app = web.Application()
    app.router.add_get("/", report)
    app.router.add_put("/control/delay", set_delay)
    app.router.add_get("/sms/{path:.*}", read)
    app.router.add_post("/{path:.*}", send)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", port)  # inside a container network, on purpose
    await site.start()
    bound = runner.addresses[0][1]
    print(f"http://127.0.0.1:{bound}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    # `python -m tests.support.fake_sens DELAY_SECONDS [PORT]`: serve until stopped, at PORT (8080; 0 for
    # a free one).
    import sys

    asyncio.run(
        serve(
            float(sys.argv[1]) if len(sys.argv) > 1 else 0.0, int(sys.argv[2]) if len(sys.argv) > 2 else 8080
        )
    )
