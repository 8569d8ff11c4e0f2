"""A stand-in for Naver Cloud SENS: checks the v2 signature like the real API and counts sends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.http_server import LocalHttpServer, QuietHandler

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
SERVICE_ID = "ncp:sms:kr:1234:test"
SENDER = "0212345678"


@dataclass
class SensState:
    sent: list[dict[str, Any]] = field(default_factory=list)
    rejected_signatures: int = 0
    fail_next: int = 0
    fail_status: int = 503
    retry_after: str = ""  # sent as Retry-After with each injected failure when set
    drop_next: int = 0  # accept (and count as sent) this many, then hang up without answering
    delay_seconds: float = 0.0  # how long a valid request hangs before it is answered
    received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def per_recipient(self) -> Counter[str]:
        return Counter(m["messages"][0]["to"] + "|" + m["content"] for m in self.sent)


def expected_signature(path: str, timestamp: str) -> str:
    message = f"POST {path}\n{timestamp}\n{ACCESS_KEY}".encode()
    return base64.b64encode(hmac.new(SECRET_KEY.encode(), message, hashlib.sha256).digest()).decode()


def _handler(state: SensState) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real API: a client reuses its connections
        # One write per answer, sent at once: headers and body in separate segments would meet the
        # client's delayed ACK and cost 40 ms per request on a kept-alive connection.
        wbufsize = -1
        disable_nagle_algorithm = True

        def _reply(self, status: int, body: dict[str, Any], retry_after: str = "") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            if retry_after:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            """What was sent, for a test outside this process (the fake running in a container)."""
            with state.lock:
                self._reply(
                    200, {"received": state.received, "sent": sorted(state.per_recipient().elements())}
                )

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            timestamp = self.headers.get("x-ncp-apigw-timestamp", "")
            signature_ok = (
                self.path == f"/sms/v2/services/{SERVICE_ID}/messages"
                and self.headers.get("x-ncp-iam-access-key") == ACCESS_KEY
                and hmac.compare_digest(
                    self.headers.get("x-ncp-apigw-signature-v2", ""), expected_signature(self.path, timestamp)
                )
            )
            with state.lock:
                state.received += 1
            time.sleep(state.delay_seconds)
            with state.lock:
                if not signature_ok:
                    state.rejected_signatures += 1
                    self._reply(401, {"error": "signature"})
                    return
                if state.fail_next > 0:
                    state.fail_next -= 1
                    self._reply(state.fail_status, {"error": "injected"}, state.retry_after)
                    return
                state.sent.append(body)
                if state.drop_next > 0:
                    state.drop_next -= 1
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
            self._reply(202, {"requestId": uuid.uuid4().hex, "statusCode": "202", "statusName": "success"})

    return Handler


class FakeSens(LocalHttpServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SensState()
        super().__init__(_handler(self.state), host, port)

    def env(self) -> dict[str, str]:
        return {
            "SENS_ENDPOINT": self.url,
            "SENS_ACCESS_KEY": ACCESS_KEY,
            "SENS_SECRET_KEY": SECRET_KEY,
            "SENS_SERVICE_ID": SERVICE_ID,
            "SENS_SENDER": SENDER,
        }


if __name__ == "__main__":
    # `python -m tests.support.fake_sens DELAY_SECONDS`: serve on 0.0.0.0:8080 until stopped (a container).
    import sys

    with FakeSens("0.0.0.0", 8080) as server:  # inside a container network, on purpose
        server.state.delay_seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
        threading.Event().wait()
