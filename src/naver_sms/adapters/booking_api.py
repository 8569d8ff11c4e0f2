"""Naver booking API client: paginated JSON over HTTP with the login cookies.

It tells the use case when those cookies are no longer logged in (SessionExpired), from the answers a
session's end is known to give: 401 or 403; a redirect that ends on the login page; or the login page
itself (a password form) where JSON was expected. Anything else unexpected is a BookingSourceError."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Mapping, Sequence

import requests

from naver_sms.adapters.http import retrying_session
from naver_sms.application.errors import BookingSourceError, SessionExpired

MAX_PAGES = 200  # a guard against an API that never stops paginating
NOT_LOGGED_IN = frozenset({401, 403})
PASSWORD_FORM = re.compile(rb"<input[^>]*type=[\"']?password", re.IGNORECASE)


class HttpBookingSource:
    """GET {url}?page=N&size=S → {"bookings": [...], "next_page": N|null}."""

    def __init__(
        self, url: str, *, login_url: str, page_size: int, timeout: float, max_attempts: int
    ) -> None:
        self._url = url
        self._login_page = _page(login_url)
        self._page_size = page_size
        self._timeout = timeout
        self._session = retrying_session(max_attempts)

    async def fetch(self, cookies: Mapping[str, str]) -> Sequence[object]:
        """Every record of every page, unvalidated: the use case judges each booking on its own."""
        return await asyncio.to_thread(self._fetch, cookies)  # requests blocks

    def _fetch(self, cookies: Mapping[str, str]) -> Sequence[object]:
        bookings: list[object] = []
        page: int | None = 1
        for _ in range(MAX_PAGES):
            if page is None:
                return bookings
            records, next_page = self._get_page(page, cookies)
            bookings.extend(records)
            page = next_page
        raise BookingSourceError(f"{self._url}: more than {MAX_PAGES} pages; refusing to continue")

    def _get_page(self, page: int, cookies: Mapping[str, str]) -> tuple[list[object], int | None]:
        try:
            response = self._session.get(
                self._url,
                params={"page": page, "size": self._page_size},
                cookies=dict(cookies),
                timeout=self._timeout,
            )
        except requests.RequestException as err:
            raise BookingSourceError(f"{self._url}: {type(err).__name__}: {err}") from err
        self._check_session(response, page)
        if response.status_code != 200:
            raise BookingSourceError(f"{self._url} page {page}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as err:
            raise BookingSourceError(f"{self._url} page {page}: response is not JSON") from err
        if not isinstance(body, dict) or not isinstance(body.get("bookings"), list):
            raise BookingSourceError(f"{self._url} page {page}: expected an object with a 'bookings' list")
        next_page = body.get("next_page")
        if next_page is not None and (not isinstance(next_page, int) or next_page <= page):
            raise BookingSourceError(f"{self._url} page {page}: bad next_page {next_page!r}")
        return body["bookings"], next_page

    def _check_session(self, response: requests.Response, page: int) -> None:
        where = f"{self._url} page {page}"
        if response.status_code in NOT_LOGGED_IN:
            raise SessionExpired(f"{where}: HTTP {response.status_code}")
        if response.history and _page(response.url) == self._login_page:
            raise SessionExpired(f"{where}: redirected to the login page")
        is_html = response.headers.get("Content-Type", "").startswith("text/html")
        if is_html and PASSWORD_FORM.search(response.content[:65536]):
            raise SessionExpired(f"{where}: a login page where JSON was expected")


def _page(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc.lower(), parts.path.rstrip("/")
