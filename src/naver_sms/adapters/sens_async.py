"""SENS on the worker's event loop, over aiohttp: a send costs no thread. The request, the answer's
meaning and the retry policy are sens.py's; only the HTTP client and its errors are this module's."""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from typing import Any

import aiohttp

from naver_sms.adapters.sens import SendPolicy, SensCredentials, SensRequest, answer
from naver_sms.application.errors import NotDelivered, OutcomeUnknown
from naver_sms.domain.messages import PlannedMessage


class AsyncSensTransport:
    """Proxy settings are read from the environment once (requests, in the Lambda, reads them per
    request: a cost the worker pays per SMS)."""

    def __init__(
        self, endpoint: str, credentials: SensCredentials, policy: SendPolicy, *, pool_size: int = 10
    ) -> None:
        self._request = SensRequest(endpoint, credentials)
        self._policy = policy
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._proxy = environment_proxy(self._request.url)

    async def send(self, message: PlannedMessage) -> str:
        attempt = 1
        while True:
            try:
                return await self._attempt(message)
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
        progress = _Progress()
        try:
            async with self._client().post(
                self._request.url,
                data=self._request.body(message),
                headers=self._request.headers(),
                proxy=self._proxy,
                allow_redirects=False,  # a followed redirect would be a second request for one SMS
                trace_request_ctx=progress,
            ) as response:
                body = await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as err:
            raise NotDelivered(f"cannot connect to SENS: {type(err).__name__}") from err
        except TimeoutError as err:  # the read timeout and the attempt's total deadline are both one
            if not progress.sent:  # still connecting (a full listen backlog): nothing has left
                raise NotDelivered(f"cannot connect to SENS within {self._policy.timeout:g} s") from err
            raise OutcomeUnknown(f"no answer from SENS within {self._policy.timeout:g} s") from err
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError) as err:
            raise OutcomeUnknown(f"connection to SENS lost after sending: {type(err).__name__}") from err
        except aiohttp.ClientError as err:
            raise OutcomeUnknown(f"SENS request failed: {type(err).__name__}") from err
        # A repeated Retry-After joined as requests joins it, so both clients read the same answer.
        retry_after = ", ".join(response.headers.getall("Retry-After", []))
        return answer(response.status, {"Retry-After": retry_after}, body)


class _Progress:
    """How far one attempt got: whether any of the request left (its headers were written)."""

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
