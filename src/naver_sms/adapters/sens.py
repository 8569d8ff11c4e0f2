"""SMS through Naver Cloud SENS API v2, signed with HMAC-SHA256 as its documentation describes.

Signature: base64(HMAC-SHA256(secret_key, "POST {path}\\n{timestamp}\\n{access_key}")).

Every failure is classified by what it says about the SMS. Only failures known to precede delivery
(no connection, or 429) are retried here; a read timeout, a 5xx or a connection lost after the request
was written may mean the message was accepted, so it is reported as OutcomeUnknown and never resent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, NewConnectionError

from naver_sms.application.errors import NotDelivered, OutcomeUnknown, Refused
from naver_sms.domain.messages import PlannedMessage

TOO_MANY_REQUESTS = 429
BODY_SHOWN = 200  # characters of a refusal body kept in the reason


def sign(secret_key: str, method: str, path: str, timestamp: str, access_key: str) -> str:
    message = f"{method} {path}\n{timestamp}\n{access_key}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


ACCEPTED = 202  # SENS v2's one success: 202 with {"requestId", "statusCode": "202", "statusName"}
RETRY_SECONDS = re.compile(r"[0-9]+(?:[ \t]*,[ \t]*[0-9]+)*")  # ASCII digits; a repeated header joined


def _request_id(body: bytes) -> str | None:
    """SENS's id for the accepted request, or None when the body is not SENS's success answer."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or str(data.get("statusCode")) != str(ACCEPTED):
        return None
    request_id = data.get("requestId")
    return request_id if isinstance(request_id, str) and request_id.strip() else None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date); a repeated header counts at its longest."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if RETRY_SECONDS.fullmatch(value):
        return float(max(int(part) for part in value.split(",")))
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def answer(status: int, headers: Mapping[str, str], body: bytes) -> str:
    """What SENS's answer says about the SMS: its request id, or the DeliveryError that fits."""
    shown = body[: BODY_SHOWN * 4].decode("utf-8", "replace")[:BODY_SHOWN]
    problem = f"HTTP {status}: {shown}"
    if 200 <= status < 300:
        request_id = _request_id(body) if status == ACCEPTED else None
        if request_id is None:
            # A 2xx that is not SENS's success: something else answered (a proxy, a wrong endpoint).
            # Whether the SMS went out cannot be known, so it is reported, never resent.
            raise OutcomeUnknown(
                f"an answer that is not SENS's success ({problem}); the message may have been sent"
            )
        return request_id
    if status == TOO_MANY_REQUESTS:
        raise NotDelivered(f"SENS is rate limiting: {problem}", retry_after=_retry_after(headers))
    if status >= 500:
        raise OutcomeUnknown(f"SENS answered {problem}; the message may have been accepted")
    raise Refused(f"SENS refused the message: {problem}")


def _never_connected(err: requests.ConnectionError) -> bool:
    """True when the request cannot have left: the TCP connection was never made (refused, DNS, connect
    timeout). Anything else (reset, remote closed) may have happened after the request was written."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    cause = err.args[0] if err.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


@dataclass(frozen=True)
class SensCredentials:
    access_key: str = field(repr=False)  # never in a repr: tracebacks and debug logs show reprs
    secret_key: str = field(repr=False)
    service_id: str
    sender: str


@dataclass(frozen=True)
class SendPolicy:
    timeout: float  # seconds for one attempt in total: connect, write and the whole answer
    max_attempts: int  # for failures known to precede delivery
    backoff: float  # first wait between those attempts; doubles per attempt
    max_retry_after: float  # a longer Retry-After is handed to the caller instead of slept here

    def wait_before(self, attempt: int, err: NotDelivered) -> float:
        """Seconds to wait before trying again after `attempt` failed with `err`; raises when the
        caller should have it instead (no attempts left, or a Retry-After longer than we wait)."""
        wait: float = self.backoff * 2.0 ** (attempt - 1)
        if err.retry_after is not None:
            if err.retry_after > self.max_retry_after:
                raise err
            wait = max(wait, err.retry_after)
        if attempt >= self.max_attempts:
            raise NotDelivered(
                f"SENS not reached after {attempt} attempts: {err}", retry_after=err.retry_after
            ) from err
        return wait


@dataclass(frozen=True)
class SensRequest:
    """One signed SENS v2 send, whatever HTTP client carries it."""

    endpoint: str
    credentials: SensCredentials

    @property
    def path(self) -> str:
        return f"/sms/v2/services/{self.credentials.service_id}/messages"

    @property
    def url(self) -> str:
        return self.endpoint.rstrip("/") + self.path

    def headers(self) -> dict[str, str]:
        creds = self.credentials
        timestamp = str(int(time.time() * 1000))
        return {
            "Content-Type": "application/json; charset=utf-8",
            "x-ncp-apigw-timestamp": timestamp,
            "x-ncp-iam-access-key": creds.access_key,
            "x-ncp-apigw-signature-v2": sign(
                creds.secret_key, "POST", self.path, timestamp, creds.access_key
            ),
        }

    def body(self, message: PlannedMessage) -> bytes:
        return json.dumps(
            {
                "type": message.kind.value,
                "from": self.credentials.sender,
                "content": message.text,
                "messages": [{"to": message.phone}],
            }
        ).encode()


class _Attempt:
    """The socket one attempt is using, so its deadline (on a timer's thread) can cut it."""

    sock: socket.socket | None = None


class _Watch(threading.local):
    """Which attempt the current thread is making: its connections record their socket there."""

    attempt: _Attempt | None = None

    def saw(self, sock: socket.socket | None) -> None:
        if self.attempt is not None and sock is not None:
            self.attempt.sock = sock


def _watched(base: type[HTTPConnection], watch: _Watch) -> type[HTTPConnection]:
    class Watched(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            watch.saw(self.sock)

        def request(self, *args: Any, **kwargs: Any) -> None:
            watch.saw(self.sock)  # a kept-alive connection: connect() is not called again
            super().request(*args, **kwargs)

    return Watched


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests has no total timeout: its read timeout bounds each wait for bytes, so an answer that
    trickles in a byte at a time never trips it. Connections made here tell `watch` their socket, and
    an attempt's deadline shuts that socket down, which ends any read in progress."""

    def __init__(self, watch: _Watch, pool_size: int) -> None:
        self._pools = {
            "http": type(
                "WatchedPool", (HTTPConnectionPool,), {"ConnectionCls": _watched(HTTPConnection, watch)}
            ),
            "https": type(
                "WatchedHTTPSPool",
                (HTTPSConnectionPool,),
                {"ConnectionCls": _watched(HTTPSConnection, watch)},
            ),
        }
        super().__init__(pool_connections=1, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager


class SensTransport:
    """Blocking, over requests: the Lambda's."""

    def __init__(self, endpoint: str, credentials: SensCredentials, policy: SendPolicy) -> None:
        self._request = SensRequest(endpoint, credentials)
        self._policy = policy
        self._watch = _Watch()
        self._session = requests.Session()
        # A POST is never retried by the HTTP layer: this class decides, knowing what a retry risks.
        adapter = _DeadlineAdapter(self._watch, pool_size=10)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def send(self, message: PlannedMessage) -> str:
        attempt = 1
        while True:
            try:
                return self._attempt(message)
            except NotDelivered as err:
                time.sleep(self._policy.wait_before(attempt, err))
            attempt += 1

    @staticmethod
    def _cut(attempt: _Attempt, expired: threading.Event) -> None:
        expired.set()
        if attempt.sock is not None:
            with contextlib.suppress(OSError):
                attempt.sock.shutdown(socket.SHUT_RDWR)

    def _attempt(self, message: PlannedMessage) -> str:
        expired, attempt = threading.Event(), _Attempt()
        deadline = threading.Timer(self._policy.timeout, self._cut, (attempt, expired))
        self._watch.attempt = attempt
        deadline.start()
        try:
            response = self._session.post(
                self._request.url,
                data=self._request.body(message),
                headers=self._request.headers(),
                timeout=self._policy.timeout,
                allow_redirects=False,  # a followed redirect would be a second request for one SMS
            )
        except requests.ConnectionError as err:
            if _never_connected(err):
                raise NotDelivered(f"cannot connect to SENS: {type(err).__name__}") from err
            if expired.is_set():
                raise self._late() from err
            raise OutcomeUnknown(f"connection to SENS lost after sending: {type(err).__name__}") from err
        except requests.Timeout as err:
            raise self._late() from err
        except requests.RequestException as err:
            if expired.is_set():
                raise self._late() from err
            raise OutcomeUnknown(f"SENS request failed: {type(err).__name__}") from err
        finally:
            deadline.cancel()
            self._watch.attempt = None
        return answer(response.status_code, response.headers, response.content)

    def _late(self) -> OutcomeUnknown:
        return OutcomeUnknown(f"no answer from SENS within {self._policy.timeout:g} s")
