"""SMS through Naver Cloud SENS API v2 over aiohttp, signed with HMAC-SHA256 as its documentation
describes: both images' one SENS client, a send costing no thread.

Signature: base64(HMAC-SHA256(secret_key, "POST {path}\\n{timestamp}\\n{access_key}")).

Every failure is classified by what it says about the SMS. Only failures known to precede delivery
(no connection to SENS or to the proxy, a proxy that refuses or drops the CONNECT before the request is
written, or 429) are retried here; a read timeout, a 5xx or a connection lost after the request
was written may mean the message was accepted, so it is reported as OutcomeUnknown and never resent.
SENS refusing the keys (401, 403) is known not sent too, but handed to the caller at once: the keys are
read again (they may have been rotated) and a later try of the message signs with the new ones.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from naver_sms.application.errors import NotDelivered, OutcomeUnknown, Refused
from naver_sms.application.send_policy import SendPolicy
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


CREDENTIALS_REFUSED = frozenset({401, 403})  # SENS's answers to a signature made with keys it refuses


class KeysRefused(NotDelivered):
    """SENS refused the keys the request was signed with (401, 403), not the message: its gateway
    answers before the message is looked at, so it was not sent, and a later try signed with the keys
    read again (after a rotation: the new ones) may pass. Not retried in the send: the same keys would be
    refused again, and a key that is simply wrong would cost every message several refused requests."""


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
    if status in CREDENTIALS_REFUSED:
        raise KeysRefused(
            f"SENS refused the access key or signature ({problem}): not sent; the keys are read again "
            "and a later try signs with them (rotated keys?)"
        )
    raise Refused(f"SENS refused the message: {problem}", status=status)


@dataclass(frozen=True)
class SensCredentials:
    access_key: str = field(repr=False)  # never in a repr: tracebacks and debug logs show reprs
    secret_key: str = field(repr=False)
    service_id: str
    sender: str


def signed_headers(credentials: SensCredentials, method: str, path: str) -> dict[str, str]:
    """The API gateway's signature headers for one request; `path` with its query string, exactly as
    it goes on the wire (the gateway signs what it received)."""
    timestamp = str(int(time.time() * 1000))
    return {
        "x-ncp-apigw-timestamp": timestamp,
        "x-ncp-iam-access-key": credentials.access_key,
        "x-ncp-apigw-signature-v2": sign(
            credentials.secret_key, method, path, timestamp, credentials.access_key
        ),
    }


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
        return {
            "Content-Type": "application/json; charset=utf-8",
            **signed_headers(self.credentials, "POST", self.path),
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


Credentials = Callable[[], SensCredentials]


class SensTransport:
    """Proxy settings are read from the environment once, not per SMS. `pool_size`: connections kept, one
    per send that may be in flight at once.

    `credentials`: the keys, or what gives them; called before each attempt, so keys read again (after
    `credentials_refused`, or a cache's TTL) sign the next attempt without a new transport. It should be
    cheap (a cache's answer), and raise NotDelivered when it cannot give them: nothing was sent."""

    def __init__(
        self,
        endpoint: str,
        credentials: SensCredentials | Credentials,
        policy: SendPolicy,
        *,
        pool_size: int,
        credentials_refused: Callable[[], None] = lambda: None,
    ) -> None:
        self._endpoint = endpoint
        self._credentials = as_credentials(credentials)
        # Told when SENS refuses the keys (401, 403): they may have been rotated since they were read.
        self._credentials_refused = credentials_refused
        self._policy = policy
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._proxy = environment_proxy(endpoint)  # the scheme and host decide it, not the path

    async def send(self, message: PlannedMessage) -> str:
        attempt = 1
        while True:
            try:
                return await self._attempt(message)
            except KeysRefused:
                self._credentials_refused()  # the next try reads them again
                raise
            except NotDelivered as err:
                await asyncio.sleep(self._policy.wait_before(attempt, err))
            attempt += 1

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the running event loop.
        if self._session is None:
            timeout = self._policy.timeout
            sending = aiohttp.TraceConfig()
            sending.on_request_headers_sent.append(_headers_sent)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                # One total deadline per attempt: connect, write and the whole answer (an answer that
                # trickles in never outlives it).
                timeout=aiohttp.ClientTimeout(total=timeout, connect=timeout, sock_read=timeout),
                trace_configs=[sending],
                trust_env=False,
            )
        return self._session

    async def _attempt(self, message: PlannedMessage) -> str:
        request = SensRequest(self._endpoint, self._credentials())  # the keys as they are now
        progress = _Progress()
        try:
            async with self._client().post(
                request.url,
                data=request.body(message),
                headers=request.headers(),
                proxy=self._proxy,
                allow_redirects=False,  # a followed redirect would be a second request for one SMS
                trace_request_ctx=progress,
            ) as response:
                body = await response.read()
        except aiohttp.ClientProxyConnectionError as err:  # a ClientConnectorError: before any byte left
            raise NotDelivered(f"cannot connect to the proxy for SENS: {type(err).__name__}") from err
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as err:
            raise NotDelivered(f"cannot connect to SENS: {type(err).__name__}") from err
        except aiohttp.ClientHttpProxyError as err:
            # Raised by the connector alone, when the proxy answers the CONNECT for an https endpoint with
            # anything but 200: the tunnel never opened, so the request never left this process.
            raise NotDelivered(
                f"the proxy refused a tunnel to SENS: HTTP {err.status} {_shown(err.message)}"
            ) from err
        except TimeoutError as err:  # the read timeout and the attempt's total deadline are both one
            if not progress.sent:  # still connecting (a full listen backlog): nothing has left
                raise NotDelivered(f"cannot connect to SENS within {self._policy.timeout:g} s") from err
            raise OutcomeUnknown(f"no answer from SENS within {self._policy.timeout:g} s") from err
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError) as err:
            if not progress.sent:  # a proxy that hung up on the CONNECT: the request was never written
                raise NotDelivered(f"connection lost before sending to SENS: {type(err).__name__}") from err
            raise OutcomeUnknown(f"connection to SENS lost after sending: {type(err).__name__}") from err
        except aiohttp.ClientError as err:
            raise OutcomeUnknown(f"SENS request failed: {type(err).__name__}") from err
        # A repeated Retry-After joined into one comma-separated value, as HTTP folds repeated headers:
        # `answer` sees every value (_retry_after takes the longest of repeated delta-seconds).
        retry_after = ", ".join(response.headers.getall("Retry-After", []))
        return answer(response.status, {"Retry-After": retry_after}, body)


def as_credentials(credentials: SensCredentials | Credentials) -> Credentials:
    """Fixed keys or what gives them, as what gives them: each request calls it for the keys of now."""
    if isinstance(credentials, SensCredentials):
        return lambda: credentials
    return credentials


def _shown(text: str) -> str:
    return " ".join(text.split())[:BODY_SHOWN]


class _Progress:
    """How far one attempt got: whether any of the request may have left. aiohttp calls the hook that
    sets it before it writes the request's headers; a proxy's CONNECT is not the request and does not
    set it."""

    sent = False


async def _headers_sent(
    session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestHeadersSentParams
) -> None:
    context.trace_request_ctx.sent = True


def environment_proxy(url: str) -> str | None:
    """The proxy HTTPS_PROXY/HTTP_PROXY name for `url`, unless NO_PROXY excludes its host."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)
