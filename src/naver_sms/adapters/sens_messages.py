"""SENS's record of sent SMS over aiohttp: the SentMessages port, read with the send's keys and signature
(sens.signed_headers, over the path WITH its query string, as the gateway signs what it received).

Read whole or refused: any answer but a whole, well-formed one raises a SentMessagesError, because an
empty list will be read as "never sent, safe to send again". Nothing is retried here: a read is safe to
repeat, so the caller decides when (a reconciler's next round), and a timeout never hangs a run.

Paging: pages are asked as `pageIndex` (from 0) and `pageSize`, and the answer's `pageIndex` and
`hasMore` are checked. Naver Cloud's doc page `sens-sms-list` ("메시지 발송 목록 조회",
https://api.ncloud-docs.com/docs/sens-sms-list, also /docs/ja/ and api-gov.ncloud-docs.com) was found
again when the review of #36 looked (December 2026): its request part confirms the list's last 90 days,
`requestId` or `requestStartTime` + `requestEndTime` (YYYY-MM-DD HH:mm:ss, URL-encoded, at most 30 days
apart) or `completeStartTime` + `completeEndTime` (at most 24 hours), and the optional `messageId`,
`type`, `contentType`, `countryCode`; its paging rows and the answer's paging fields could not be read
there. So these names stay unverified, and sens_records.read_page concludes the end of a list only from
an explicit `hasMore: false`: an answer without it is refused (OddAnswer), which leaves every unknown
unknown rather than read a list short. Check one real answer before relying on the reconciler: if SENS
says the end otherwise, teach read_page that signal (and cite the page).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from naver_sms.adapters.sens import (
    BODY_SHOWN,
    CREDENTIALS_REFUSED,
    Credentials,
    SensCredentials,
    SensRequest,
    as_credentials,
    environment_proxy,
    signed_headers,
)
from naver_sms.adapters.sens_records import messages_of, read_page, window_query
from naver_sms.application.errors import (
    DeliveryError,
    MessageNotFound,
    OddAnswer,
    SentMessagesRefused,
    SentMessagesUnavailable,
)
from naver_sms.application.ports import SentMessage
from naver_sms.domain.phone import mask_phones_in

PAGE_SIZE = 100  # messages asked per page
MOST_PAGES = 1000  # a list longer than this is a server that ignores pageIndex, not a shop's month


class SensMessages:
    """`credentials`: as SensTransport's (called before each request; `credentials_refused` is told of a
    401/403, so keys rotated since are read again). `timeout`: seconds per request, whole answer included.
    `now`: the clock that says how far back SENS's 90 days reach."""

    def __init__(
        self,
        endpoint: str,
        credentials: SensCredentials | Credentials,
        *,
        timeout: float,
        page_size: int = PAGE_SIZE,
        credentials_refused: Callable[[], None] = lambda: None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._credentials = as_credentials(credentials)
        self._credentials_refused = credentials_refused
        self._timeout = timeout
        self._page_size = page_size
        self._now = now
        self._session: aiohttp.ClientSession | None = None
        self._proxy = environment_proxy(endpoint)

    async def by_request(self, request_id: str) -> list[SentMessage]:
        return await self._list({"requestId": request_id})

    async def in_window(self, start: datetime, end: datetime) -> list[SentMessage]:
        # Checked before any request: SENS would refuse it, or answer only part of it.
        query = window_query(start, end, datetime.fromtimestamp(self._now(), UTC))
        return await self._list(query)

    async def message(self, message_id: str) -> SentMessage:
        suffix = "/" + urllib.parse.quote(message_id, safe="")
        answer = await self._get(suffix, {}, missing=f"SENS knows no message {message_id!r}")
        where = f"SENS's message {message_id!r}"
        found = messages_of(answer, where)
        if [message.message_id for message in found] != [message_id]:
            raise OddAnswer(f"{where}: the answer holds {len(found)} messages, not this one alone")
        return found[0]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _list(self, query: Mapping[str, str]) -> list[SentMessage]:
        found: dict[str, SentMessage] = {}
        for index in range(MOST_PAGES):
            page = {**query, "pageIndex": str(index), "pageSize": str(self._page_size)}
            messages, more = read_page(await self._get("", page), index, self._page_size)
            for message in messages:
                if message.message_id in found:
                    raise OddAnswer(
                        f"SENS's message list, page {index}: repeats a message of an earlier page"
                    )
                found[message.message_id] = message
            if not more:
                return list(found.values())
        raise OddAnswer(f"SENS's message list runs past {MOST_PAGES} pages of {self._page_size}")

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout), trust_env=False
            )
        return self._session

    async def _get(self, suffix: str, query: Mapping[str, str], missing: str = "") -> dict[str, Any]:
        """SENS's JSON answer to one signed GET of its messages path + `suffix`; `missing`: the error a
        404 is (a message asked by id), else a 404 is a wrong endpoint."""
        try:
            credentials = self._credentials()
        except DeliveryError as err:  # the keys could not be read: nothing was asked
            raise SentMessagesUnavailable(f"no SENS keys to read its message record: {err}") from err
        path = SensRequest(self._endpoint, credentials).path + suffix
        if query:  # %20 for a space, as the doc's examples; the signature covers these very bytes
            path += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        try:
            async with self._client().get(
                URL(self._endpoint + path, encoded=True),  # sent as signed, not re-encoded
                headers=signed_headers(credentials, "GET", path),
                proxy=self._proxy,
                allow_redirects=False,
            ) as response:
                status, body = response.status, await response.read()
        except TimeoutError as err:
            raise SentMessagesUnavailable(f"no answer from SENS within {self._timeout:g} s") from err
        except aiohttp.ClientError as err:
            raise SentMessagesUnavailable(f"cannot read SENS's message record: {type(err).__name__}") from err
        return self._decoded(status, body, missing)

    def _decoded(self, status: int, body: bytes, missing: str) -> dict[str, Any]:
        shown = mask_phones_in(body[: BODY_SHOWN * 4].decode("utf-8", "replace")[:BODY_SHOWN])
        problem = f"HTTP {status}: {shown}"
        if status == 404 and missing:
            raise MessageNotFound(f"{missing} ({problem})")
        if status in CREDENTIALS_REFUSED:
            self._credentials_refused()
            raise SentMessagesRefused(f"SENS refused the access key or signature ({problem})", status=status)
        if status == 429 or status >= 500:
            raise SentMessagesUnavailable(f"SENS could not answer now ({problem})")
        if not 200 <= status < 300:
            raise SentMessagesRefused(f"SENS refused the read ({problem})", status=status)
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise OddAnswer(f"an answer that is not SENS's JSON ({problem})")
        return answer
