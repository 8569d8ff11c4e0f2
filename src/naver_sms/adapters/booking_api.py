"""Naver booking API client: paginated JSON over HTTP with the login cookies.

The login cookies go to the booking API's own origin (scheme, lowercased host and port of its URL, the
default port filled in) and nowhere else, over https (plain http only to a loopback host: a local run or
a test). The origin is read from the URL as requests will send it (prepared, then parsed as its adapter
parses it), and every request is checked against it just before it is sent. Redirects are followed here,
not by requests (which would re-send the cookies to any host, plain http included): one within that
origin is followed, at most MAX_REDIRECTS; one anywhere else (another host, a downgrade to http), or a
Location that parsers may read differently (a backslash, user info, control characters or white space in
it), is a BookingSourceError, and nothing is sent there.

It tells the use case when those cookies are no longer logged in (SessionExpired), from the answers a
session's end is known to give: 401; a redirect to the login page's host (its origin, whatever the path:
never followed, the login host gets no cookie); or the login page itself (a password form) where JSON was
expected. A 403 or 429 is a refusal (rate limiting, a WAF), never a session end: a new login would not
help, and each one alerts the shop owner and risks locking the account. It fails the run at once as
SourceRefused, with the Retry-After it gave and nothing waited out. Anything else unexpected is a
BookingSourceError."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from naver_sms.adapters.http import retrying_session
from naver_sms.application.errors import BookingSourceError, SessionExpired, SourceRefused
from naver_sms.domain.phone import mask_phones_in

MAX_PAGES = 200  # a guard against an API that never stops paginating
MAX_REDIRECTS = 5  # within the API's own origin, per page
DEFAULT_PORTS = {"http": 80, "https": 443}
NOT_LOGGED_IN = 401
REFUSED = frozenset({403, 429})
PASSWORD_FORM = re.compile(rb"<input[^>]*type=[\"']?password", re.IGNORECASE)
# Retry-After as delta-seconds (ASCII digits only: str.isdigit would take "²"); a repeated header
# arrives joined by ", " and counts at its longest. A negative one is read as "now".
RETRY_SECONDS = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]+)?(?:\s*,\s*-?[0-9]{1,12}(?:\.[0-9]+)?)*")
BODY_READ = 65536  # bytes of a refusal's body looked at for its message (a longer one is not shown)
SHOWN = 200  # characters of that message shown
MESSAGE_KEYS = ("message", "error_description", "errorMessage", "error", "msg", "detail")


class HttpBookingSource:
    """GET {url}?page=N&size=S → {"bookings": [...], "next_page": N|null}."""

    def __init__(
        self, url: str, *, login_url: str, page_size: int, timeout: float, max_attempts: int
    ) -> None:
        self._url = url
        self._origin = _origin(url)
        self._login_origin = _origin(login_url)
        self._login_path = _path(login_url)
        self._page_size = page_size
        self._timeout = timeout
        self._session = retrying_session(max_attempts)

    async def fetch(self, cookies: Mapping[str, str]) -> Sequence[object]:
        """Every record of every page, unvalidated: the use case judges each booking on its own."""
        return await asyncio.to_thread(self._fetch, cookies)  # requests blocks

    def _fetch(self, cookies: Mapping[str, str]) -> Sequence[object]:
        self._own_origin()  # before anything is sent
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
        response = self._follow(page, cookies)
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

    def _own_origin(self) -> Origin:
        """The one origin the cookies may go to: the API's, if it is https or plain http to loopback."""
        if self._origin is None:
            raise BookingSourceError(f"{self._url}: not a plain http(s) URL; nothing was sent")
        if not _safe_for_cookies(self._origin):
            raise BookingSourceError(
                f"{self._url}: the Naver session goes over https only (plain http to a loopback host "
                "alone, for a local run); nothing was sent"
            )
        return self._origin

    def _follow(self, page: int, cookies: Mapping[str, str]) -> requests.Response:
        """The page's answer, redirects within the API's origin followed. Every request goes to that
        origin: a redirect anywhere else is never requested, so the cookies cannot follow it."""
        where = f"{self._url} page {page}"
        own = self._own_origin()
        url: str = self._url
        params: dict[str, int] | None = {"page": page, "size": self._page_size}
        for _ in range(MAX_REDIRECTS + 1):
            response = self._get(url, params, cookies, own)
            location = self._session.get_redirect_target(response)
            if location is None:
                return response
            response.close()
            status = f"HTTP {response.status_code} redirected to"
            if not _plain_location(location):
                raise BookingSourceError(
                    f"{where}: {status} an address with a backslash, user info, control characters or "
                    "white space in it: not followed, the Naver session is never sent elsewhere"
                )
            target = _prepared(urllib.parse.urljoin(response.url, location))
            origin = None if target is None else _origin(target)
            if target is not None and origin is not None and self._is_login(origin, target):
                raise SessionExpired(f"{where}: redirected to the login page ({_shown(origin)})")
            if target is None or origin != own:
                shown = "an address that is not a URL" if origin is None else _shown(origin)
                raise BookingSourceError(
                    f"{where}: {status} {shown}, outside the booking API "
                    f"({_shown(own)}): not followed, the Naver session is never sent elsewhere"
                )
            url, params = target, None  # the Location is the whole address, its query included
        raise BookingSourceError(f"{where}: more than {MAX_REDIRECTS} redirects; refusing to continue")

    def _is_login(self, origin: Origin, url: str) -> bool:
        """Whether a redirect to `url` (at `origin`) is to the login page: any address on the login
        page's host (its port, or the default one for each side's scheme: http://nid… counts as well as
        https://nid…:443). Where the login page shares the API's origin (a local run, a test), only its
        own path, ;parameters aside, counts."""
        login = self._login_origin
        if login is None or origin[1] != login[1]:
            return False
        scheme, _, port = origin
        if port != login[2] and (port != DEFAULT_PORTS[scheme] or login[2] != DEFAULT_PORTS[login[0]]):
            return False
        return login != self._origin or _path(url) == self._login_path

    def _get(
        self, url: str, params: dict[str, int] | None, cookies: Mapping[str, str], own: Origin
    ) -> requests.Response:
        """One GET, prepared as Session.get would prepare it, and sent only if it goes to `own`."""
        session = self._session
        try:
            request = session.prepare_request(
                requests.Request("GET", url, params=params, cookies=dict(cookies))
            )
        except requests.RequestException as err:
            raise BookingSourceError(f"{self._url}: {type(err).__name__}: {err}") from err
        if request.url is None or _origin(request.url) != own:  # never: _follow checked it
            raise BookingSourceError(f"{self._url}: a request outside {_shown(own)} was not sent")
        try:
            settings = session.merge_environment_settings(request.url, {}, None, None, None)
            return session.send(
                request,
                timeout=self._timeout,
                allow_redirects=False,  # followed by _follow, which knows where the cookies may go
                **settings,
            )
        except requests.RequestException as err:
            raise BookingSourceError(f"{self._url}: {type(err).__name__}: {err}") from err

    def _check_session(self, response: requests.Response, page: int) -> None:
        where = f"{self._url} page {page}"
        if response.status_code == NOT_LOGGED_IN:
            raise SessionExpired(f"{where}: HTTP {response.status_code}")
        # A refusal is checked before where the answer came from or what it looks like: whatever its
        # body, a 403 or 429 is never taken for a session end (a failed run is reported and the next one
        # tries again; a login storm alerts the owner each time and can lock the account).
        if response.status_code in REFUSED:
            raise _refused(where, response)
        is_html = response.headers.get("Content-Type", "").startswith("text/html")
        if is_html and PASSWORD_FORM.search(response.content[:65536]):
            raise SessionExpired(f"{where}: a login page where JSON was expected")


def _refused(where: str, response: requests.Response) -> SourceRefused:
    retry_after = retry_after_seconds(response.headers.get("Retry-After", ""))
    wait = "gave no wait" if retry_after is None else f"asks to wait {retry_after:.0f} s"
    said = _error_message(response.content[:BODY_READ])
    shown = f"; it said {said!r}" if said else ""
    return SourceRefused(
        f"{where}: HTTP {response.status_code}, refused for now; Naver {wait}{shown}", retry_after=retry_after
    )


def retry_after_seconds(value: str, now: float | None = None) -> float | None:
    """Retry-After in seconds, from delta-seconds or an HTTP date; negative (or past) is 0; anything
    else is None, as if the header were absent."""
    value = value.strip()
    if not value:
        return None
    if RETRY_SECONDS.fullmatch(value):
        return max(0.0, *(float(part) for part in value.split(",")))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    try:
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    except (ValueError, OverflowError, OSError):
        return None


def _error_message(body: bytes) -> str:
    """The message of a JSON error body ({"message": …}, {"error": …}, …), whitespace collapsed, phone
    numbers masked, capped; "" for anything else (an HTML page is not shown: it could say anything)."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):  # RecursionError: a body nested deeper than json reads
        return ""
    if not isinstance(data, dict):
        return ""
    for key in MESSAGE_KEYS:
        value = data.get(key)
        if isinstance(value, dict):  # {"error": {"code": …, "message": …}}
            value = value.get("message")
        if isinstance(value, str) and value.strip():
            text = mask_phones_in(" ".join(value.split()))
            return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
    return ""


Origin = tuple[str, str, int]


def _origin(url: str) -> Origin | None:
    """(scheme, lowercased host, port), the default port filled in, of `url` as requests sends it:
    prepared (as requests prepares it, with urllib3's parser), then read both as requests' adapter reads
    it (urllib.parse) and as urllib3 does. None for an address that is not a plain http(s) URL: one with
    user info, or one the two parsers read differently."""
    if not _plain_location(url):
        return None
    prepared = _prepared(url)
    if prepared is None:
        return None
    try:
        theirs = parse_url(prepared)
        parts = urllib.parse.urlsplit(prepared)
        port = parts.port
    except (LocationParseError, ValueError):  # a port that is not a number, or out of range
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or theirs.auth is not None or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    origin = (scheme, host, port or DEFAULT_PORTS[scheme])
    their_host = (theirs.host or "").lower().removeprefix("[").removesuffix("]")
    their_scheme = (theirs.scheme or "").lower()
    if (their_scheme, their_host, theirs.port or DEFAULT_PORTS[scheme]) != origin:
        return None
    return origin


def _prepared(url: str) -> str | None:
    """`url` as requests will send it (IDNA host, quoted path), or None if requests would not send it."""
    try:
        return requests.Request("GET", url).prepare().url
    except (requests.RequestException, ValueError, LocationParseError):
        return None


def _plain_location(location: str) -> bool:
    """No backslash, control character or white space anywhere (parsers differ on each), and no user
    info in the authority."""
    if "\\" in location or any(char.isspace() or not char.isprintable() for char in location):
        return False
    authority = re.match(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#]*)", location)
    return authority is None or "@" not in authority.group(1)


def _safe_for_cookies(origin: Origin) -> bool:
    scheme, host, _ = origin
    return scheme == "https" or _is_loopback(host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown(origin: Origin) -> str:
    scheme, host, port = origin
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _path(url: str) -> str:
    """The path of `url` as requests sends it, ;parameters and a trailing / aside."""
    prepared = _prepared(url) if _plain_location(url) else None
    path = "" if prepared is None else urllib.parse.urlsplit(prepared).path
    return path.split(";", 1)[0].rstrip("/")
