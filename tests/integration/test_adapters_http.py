"""HTTP adapters against the fake servers: pagination, how each booking API and SENS answer is
classified, and that a refusal is neither retried nor waited out."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

import pytest
import requests

from naver_sms.adapters.booking_api import HttpBookingSource, _origin, retry_after_seconds
from naver_sms.adapters.sens import SensCredentials, SensTransport, environment_proxy
from naver_sms.application.errors import (
    BookingSourceError,
    NotDelivered,
    OutcomeUnknown,
    Refused,
    SessionExpired,
    SourceRefused,
    error_type,
)
from naver_sms.application.send_policy import SendPolicy
from naver_sms.domain.messages import MessageKind, PlannedMessage
from tests.support import fake_sens as sens_fake
from tests.support.bookings import mixed_bookings, record
from tests.support.fake_naver import LOGIN_FORM, SESSION, FakeNaver
from tests.support.fake_sens import FakeSens
from tests.support.refusing_proxy import local_tls, serve_tls

COOKIES = {SESSION: "valid"}
CREDS = SensCredentials(sens_fake.ACCESS_KEY, sens_fake.SECRET_KEY, sens_fake.SERVICE_ID, sens_fake.SENDER)
MESSAGE = PlannedMessage("r", "b", "01012345678", "hi", "k")
QUICK = SendPolicy(timeout=1.0, max_attempts=3, backoff=0.01, max_retry_after=2.0)


def source(
    naver: FakeNaver, max_attempts: int = 2, *, login_url: str = "", api_url: str = ""
) -> HttpBookingSource:
    """The booking API of `naver` (or `api_url`), its login page `naver`'s own unless another is given."""
    return HttpBookingSource(
        api_url or f"{naver.url}/api/bookings",
        login_url=login_url or f"{naver.url}/login",
        page_size=2,
        timeout=5,
        max_attempts=max_attempts,
    )


class Sender(Protocol):
    def send(self, message: PlannedMessage) -> str: ...


@dataclass(frozen=True)
class SentOnALoop:
    """The SENS transport, one send per event loop (as the Lambda's invocations run), its connections
    closed after."""

    url: str
    creds: SensCredentials
    policy: SendPolicy

    def send(self, message: PlannedMessage) -> str:
        async def once() -> str:
            sender = SensTransport(self.url, self.creds, self.policy, pool_size=1)
            try:
                return await sender.send(message)
            finally:
                await sender.close()

        return asyncio.run(once())


Make = Callable[..., Sender]


@pytest.fixture
def transport() -> Make:
    def make(url: str, policy: SendPolicy = QUICK, creds: SensCredentials = CREDS) -> Sender:
        return SentOnALoop(url, creds, policy)

    return make


def fetched(naver: FakeNaver, cookies: dict[str, str], max_attempts: int = 2) -> list[object]:
    return list(asyncio.run(source(naver, max_attempts).fetch(cookies)))


def test_pages_are_followed_and_records_returned_as_sent(fake_naver: FakeNaver) -> None:
    fake_naver.state.bookings = [
        *mixed_bookings(),
        {**record(9, "confirmed", timedelta(hours=1)), "phone": "n/a"},
    ]
    records = fetched(fake_naver, COOKIES)
    assert records == fake_naver.state.bookings  # validation is the use case's, one record at a time
    assert fake_naver.state.api_calls == 5


@pytest.mark.parametrize(
    ("session_end", "reason"),
    [
        ("401", "HTTP 401"),
        ("redirect", "redirected to the login page"),
        ("login_page", "a login page where JSON was expected"),
    ],
)
def test_each_way_naver_ends_a_session_is_recognised(
    fake_naver: FakeNaver, session_end: str, reason: str
) -> None:
    fake_naver.state.session_end = session_end  # type: ignore[assignment]
    with pytest.raises(SessionExpired, match=reason):
        fetched(fake_naver, {})


def other_origin(server: FakeNaver, named: bool) -> str:
    """The server's origin as the client sees it: 127.0.0.1 and its own port, or the name localhost."""
    return server.url.replace("127.0.0.1", "localhost") if named else server.url


@pytest.mark.parametrize("named", [False, True], ids=["another-port", "another-host-name"])
def test_a_redirect_to_another_origin_is_an_error_naming_it_and_gets_no_cookie(
    fake_naver: FakeNaver, named: bool
) -> None:
    fake_naver.state.bookings = mixed_bookings()
    with FakeNaver() as elsewhere:
        elsewhere.state.bookings = mixed_bookings()  # it would serve them, to whoever came with a session
        target = other_origin(elsewhere, named)
        fake_naver.state.redirects = {"/api/bookings": f"{target}/api/bookings"}
        with pytest.raises(BookingSourceError, match="redirected to") as caught:
            fetched(fake_naver, COOKIES)
        assert elsewhere.state.gets == [], "nothing, let alone the session, went to the other origin"
    shown = "localhost" if named else "127.0.0.1"
    assert f"HTTP 302 redirected to http://{shown}:{elsewhere.url.rsplit(':', 1)[1]}" in str(caught.value)
    assert not isinstance(caught.value, SessionExpired | SourceRefused)
    assert fake_naver.state.gets == [("/api/bookings", f"{SESSION}=valid")]


def test_a_redirect_within_the_api_is_followed_with_the_session(fake_naver: FakeNaver) -> None:
    fake_naver.state.bookings = mixed_bookings()
    fake_naver.state.redirects = {"/api/v1/bookings": "/api/bookings"}  # the API moved, on its own host
    moved = source(fake_naver, 1, api_url=f"{fake_naver.url}/api/v1/bookings")
    assert list(asyncio.run(moved.fetch(COOKIES))) == fake_naver.state.bookings
    assert {path for path, _ in fake_naver.state.gets} == {"/api/v1/bookings", "/api/bookings"}
    assert {cookie for _, cookie in fake_naver.state.gets} == {f"{SESSION}=valid"}


def test_a_redirect_loop_within_the_api_ends(fake_naver: FakeNaver) -> None:
    fake_naver.state.redirects = {"/api/bookings": "/api/bookings"}
    with pytest.raises(BookingSourceError, match="page 1: more than 5 redirects"):
        fetched(fake_naver, COOKIES)
    assert len(fake_naver.state.gets) == 6


def redirected_to_login_host(fake_naver: FakeNaver, login_host: FakeNaver, location: str) -> None:
    """The booking API redirects to `location` on the login host: a session end, and that host never
    sees the session."""
    fake_naver.state.redirects = {"/api/bookings": location}
    ended = source(fake_naver, 1, login_url=f"{login_host.url}/login")
    with pytest.raises(SessionExpired, match="page 1: redirected to the login page"):
        asyncio.run(ended.fetch(COOKIES))
    assert login_host.state.gets == [], "the login host never sees the session"


def test_a_redirect_to_a_login_page_on_another_host_is_a_session_end_and_sends_it_nothing(
    fake_naver: FakeNaver,
) -> None:
    with FakeNaver() as login_host:
        redirected_to_login_host(fake_naver, login_host, f"{login_host.url}/login")


def test_the_fakes_own_login_redirect_is_not_followed(fake_naver: FakeNaver) -> None:
    fake_naver.state.session_end = "redirect"
    with pytest.raises(SessionExpired, match="redirected to the login page"):
        fetched(fake_naver, COOKIES | {SESSION: "forgotten"})
    assert [path for path, _ in fake_naver.state.gets] == ["/api/bookings"]


def port_of(server: FakeNaver) -> str:
    return server.url.rsplit(":", 1)[1]


# Locations parsers read differently: urllib.parse sees the API's own host in each, requests (urllib3)
# connects elsewhere, or sends the API's host a user and password of the Location's choosing.
LOOKALIKES = {
    "backslash": "http://localhost:{other}\\@127.0.0.1:{api}/api/bookings",
    "userinfo-elsewhere": "http://127.0.0.1:{api}@localhost:{other}/api/bookings",
    "userinfo-same-host": "http://user:pw@127.0.0.1:{api}/api/bookings",
    "space": "http://127.0.0.1:{api}/api/ bookings",
    "tab": "http://127.0.0.1:{api}/api/\tbookings",
}


@pytest.mark.parametrize("location", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_a_redirect_parsers_read_differently_is_refused_and_nothing_is_sent_anywhere(
    fake_naver: FakeNaver, location: str
) -> None:
    fake_naver.state.bookings = mixed_bookings()
    with FakeNaver() as elsewhere:
        elsewhere.state.bookings = mixed_bookings()
        target = location.format(other=port_of(elsewhere), api=port_of(fake_naver))
        fake_naver.state.redirects = {"/api/bookings": target}
        with pytest.raises(BookingSourceError, match="backslash, user info") as caught:
            fetched(fake_naver, COOKIES)
        assert elsewhere.state.gets == [], "nothing, let alone the session, went to the other server"
    assert not isinstance(caught.value, SessionExpired | SourceRefused)
    assert fake_naver.state.gets == [("/api/bookings", f"{SESSION}=valid")], "the redirect was not followed"


def test_a_redirect_to_the_same_origin_written_differently_is_followed(fake_naver: FakeNaver) -> None:
    # The host upper-cased, the port zero-padded: the same origin as requests connects to it.
    fake_naver.state.bookings = mixed_bookings()
    port = port_of(fake_naver)
    fake_naver.state.redirects = {"/api/v1/bookings": f"HTTP://LOCALHOST:0{port}/api/bookings"}
    moved = source(
        fake_naver,
        1,
        api_url=f"http://localhost:{port}/api/v1/bookings",
        login_url=f"http://localhost:{port}/login",
    )
    assert list(asyncio.run(moved.fetch(COOKIES))) == fake_naver.state.bookings
    assert {path for path, _ in fake_naver.state.gets} == {"/api/v1/bookings", "/api/bookings"}
    assert {cookie for _, cookie in fake_naver.state.gets} == {f"{SESSION}=valid"}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://api.example.com/x", "HTTPS://API.Example.COM:443/y"),
        ("http://localhost/x", "http://localhost:80"),
        ("https://[::1]/x", "https://[::1]:443/x"),
    ],
)
def test_an_origin_is_its_scheme_lowercased_host_and_port_the_default_filled_in(one: str, other: str) -> None:
    assert _origin(one) == _origin(other) is not None


@pytest.mark.parametrize(
    "path",
    ["/login/ext/sso?url=x", "/login;jsessionid=1", "/nidlogin.login", "/"],
    ids=["another-path", "path-parameter", "nidlogin", "root"],
)
def test_a_redirect_anywhere_on_the_login_host_is_a_session_end_and_sends_it_nothing(
    fake_naver: FakeNaver, path: str
) -> None:
    with FakeNaver() as login_host:
        redirected_to_login_host(fake_naver, login_host, f"http://127.0.0.1:0{port_of(login_host)}{path}")


@pytest.mark.parametrize(
    "location",
    [
        "https://nid.naver.invalid:443/nidlogin.login?mode=form",
        "https://NID.naver.invalid/login/ext/sso?url=x",
        "http://nid.naver.invalid/nidlogin.login",
    ],
    ids=["explicit-default-port", "upper-case-other-path", "plain-http"],
)
def test_the_login_host_is_recognised_however_its_address_is_written(
    fake_naver: FakeNaver, location: str
) -> None:
    # Followed, the .invalid host would be a connection error (a BookingSourceError): never asked.
    fake_naver.state.redirects = {"/api/bookings": location}
    ended = source(fake_naver, 1, login_url="https://nid.naver.invalid/nidlogin.login")
    with pytest.raises(SessionExpired, match="page 1: redirected to the login page"):
        asyncio.run(ended.fetch(COOKIES))


def test_where_the_login_page_shares_the_apis_origin_only_its_own_path_is_a_session_end(
    fake_naver: FakeNaver,
) -> None:
    fake_naver.state.redirects = {"/api/bookings": "/login;jsessionid=1"}
    with pytest.raises(SessionExpired, match="page 1: redirected to the login page"):
        fetched(fake_naver, COOKIES)
    assert [path for path, _ in fake_naver.state.gets] == ["/api/bookings"]


def test_a_redirect_from_https_down_to_plain_http_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls = local_tls(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_file))  # requests trusts the test CA
    naver = FakeNaver()
    url = serve_tls(naver, tls)
    with naver:
        port = url.rsplit(":", 1)[1]
        naver.state.bookings = mixed_bookings()
        naver.state.redirects = {"/api/v1/bookings": "/api/bookings"}  # followed: still https
        naver.state.redirects |= {"/api/bookings": f"http://127.0.0.1:{port}/api/bookings"}
        source = HttpBookingSource(
            f"{url}/api/v1/bookings", login_url=f"{url}/login", page_size=2, timeout=5, max_attempts=1
        )
        with pytest.raises(BookingSourceError, match=f"redirected to http://127.0.0.1:{port}, outside"):
            asyncio.run(source.fetch(COOKIES))
    assert naver.state.gets == [
        ("/api/v1/bookings", f"{SESSION}=valid"),
        ("/api/bookings", f"{SESSION}=valid"),
    ]


@pytest.mark.parametrize(
    "url",
    ["http://partner.booking.naver.invalid/api/bookings", "http://192.0.2.1/api/bookings"],
    ids=["name", "address"],
)
def test_the_session_never_goes_over_plain_http_beyond_loopback(url: str) -> None:
    source = HttpBookingSource(
        url, login_url="https://nid.invalid/login", page_size=2, timeout=0.5, max_attempts=1
    )
    with pytest.raises(BookingSourceError, match=r"over https only .*nothing was sent"):
        asyncio.run(source.fetch(COOKIES))


def test_a_session_forgotten_on_page_two_is_recognised_there(fake_naver: FakeNaver) -> None:
    fake_naver.state.bookings = mixed_bookings()
    fake_naver.state.forget_at_page = 2
    with pytest.raises(SessionExpired, match="page 2: HTTP 401"):
        fetched(fake_naver, COOKIES)


def test_an_html_page_that_is_no_login_page_is_not_a_session_end(fake_naver: FakeNaver) -> None:
    # The fake's signed-in home page: HTML with no password form, where JSON was expected.
    source = HttpBookingSource(
        f"{fake_naver.url}/home", login_url=f"{fake_naver.url}/login", page_size=2, timeout=5, max_attempts=1
    )
    with pytest.raises(BookingSourceError, match="response is not JSON") as raised:
        asyncio.run(source.fetch(COOKIES))
    assert not isinstance(raised.value, SessionExpired)


def refused(naver: FakeNaver, max_attempts: int = 3) -> tuple[SourceRefused, float]:
    """The refusal a fetch with good cookies ends in, and how long it took."""
    started = time.monotonic()
    with pytest.raises(SourceRefused) as caught:
        fetched(naver, COOKIES, max_attempts)
    return caught.value, time.monotonic() - started


JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
WAF_PAGE = "<!doctype html><title>Access denied</title><h1>Request blocked</h1><p>Ref 0xDEAD 01012345678</p>"


def test_a_403_with_retry_after_fails_at_once_without_a_retry_a_wait_or_a_login(
    fake_naver: FakeNaver,
) -> None:
    fake_naver.state.refuse_api = (403, {**JSON, "Retry-After": "120"}, json.dumps({"error": "rate limited"}))
    err, took = refused(fake_naver)
    assert not isinstance(err, SessionExpired) and error_type(err) == "SourceRefused"
    assert err.retry_after == 120.0
    assert str(err) == (
        f"{fake_naver.url}/api/bookings page 1: HTTP 403, refused for now; Naver asks to wait 120 s; "
        "it said 'rate limited'"
    )
    assert fake_naver.state.api_calls == 1, "a refusal is never retried"
    assert took < 5.0, "a Retry-After is never slept on"


def test_a_429_with_an_http_date_retry_after_is_refused_with_the_seconds_left(fake_naver: FakeNaver) -> None:
    fake_naver.state.refuse_api = (429, {"Retry-After": formatdate(time.time() + 90, usegmt=True)}, "")
    err, took = refused(fake_naver)
    assert err.retry_after is not None and 80.0 <= err.retry_after <= 90.0
    assert "HTTP 429, refused for now; Naver asks to wait" in str(err)
    assert fake_naver.state.api_calls == 1 and took < 5.0


def test_a_429_without_retry_after_says_naver_gave_no_wait(fake_naver: FakeNaver) -> None:
    fake_naver.state.refuse_api = (429, JSON, json.dumps({"message": "slow down"}))
    err, took = refused(fake_naver)
    assert str(err) == (
        f"{fake_naver.url}/api/bookings page 1: HTTP 429, refused for now; Naver gave no wait; "
        "it said 'slow down'"
    )
    assert err.retry_after is None and fake_naver.state.api_calls == 1 and took < 5.0


@pytest.mark.parametrize(
    ("answer", "retry_after"),
    [
        ((403, HTML, WAF_PAGE), None),
        ((403, {**HTML, "Retry-After": "30"}, LOGIN_FORM), 30.0),  # even a login page: 403 is a refusal
        ((403, JSON, json.dumps({"error": "not logged in"})), None),  # whatever a 403 says
    ],
    ids=["waf-html", "login-page", "json-not-logged-in"],
)
def test_any_403_is_a_refusal_never_a_session_end(
    fake_naver: FakeNaver, answer: tuple[int, dict[str, str], str], retry_after: float | None
) -> None:
    fake_naver.state.refuse_api = answer
    err, _ = refused(fake_naver)
    assert not isinstance(err, SessionExpired) and err.retry_after == retry_after
    assert "HTTP 403, refused for now" in str(err)
    assert "<" not in str(err) and "0101234" not in str(err), "an HTML page is not shown"
    assert fake_naver.state.api_calls == 1


def test_the_fakes_403_session_end_is_now_a_refusal(fake_naver: FakeNaver) -> None:
    fake_naver.state.session_end = "403"
    with pytest.raises(SourceRefused, match="HTTP 403"):
        fetched(fake_naver, {})


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (
            json.dumps({"message": "blocked for 010-1234-5678\n  try later"}),
            "blocked for 010****5678 try later",
        ),
        (json.dumps({"error": {"code": "E42", "message": "quota"}}), "quota"),
        (json.dumps({"message": "x" * 5000}), "x" * 199 + "…"),
        (b'{"message": "caf\xe9 ferm\xe9"}', "caf\ufffd ferm\ufffd"),
        (b"\xff\xfe\x00garbage", None),
        (json.dumps(["not", "an", "object"]), None),
    ],
    ids=["phone-masked", "nested", "capped", "latin-1", "binary", "list"],
)
def test_a_refusals_json_message_is_shown_masked_and_capped(
    fake_naver: FakeNaver, body: str | bytes, shown: str | None
) -> None:
    fake_naver.state.refuse_api = (429, JSON, body)
    err, _ = refused(fake_naver)
    message = str(err)
    if shown is None:
        assert message.endswith("Naver gave no wait")
    else:
        assert message.endswith(f"; it said {shown!r}")
    assert "1234-5678" not in message and len(message) < 400


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("120, 60", 120.0),
        ("²", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:30:00 GMT", 120.0),
        ("Wed, 21 Oct 2015 07:30:00 -0000", 120.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(value: str, seconds: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after_seconds(value, now=now) == seconds


def test_another_4xx_is_a_booking_source_error(fake_naver: FakeNaver) -> None:
    fake_naver.state.refuse_api = (404, JSON, json.dumps({"error": "no such shop"}))
    with pytest.raises(BookingSourceError, match=r"page 1: HTTP 404$") as caught:
        fetched(fake_naver, COOKIES, max_attempts=3)
    assert not isinstance(caught.value, SessionExpired | SourceRefused)
    assert fake_naver.state.api_calls == 1


def test_a_5xx_is_retried_with_backoff_and_then_served(fake_naver: FakeNaver) -> None:
    fake_naver.state.bookings = mixed_bookings()
    fake_naver.state.fail_next = 2
    assert fetched(fake_naver, COOKIES, max_attempts=3) == fake_naver.state.bookings
    assert fake_naver.state.api_calls == 4 + 2


def test_a_5xx_asking_for_an_hour_is_retried_on_backoff_alone(fake_naver: FakeNaver) -> None:
    fake_naver.state.refuse_api = (503, {**JSON, "Retry-After": "3600"}, json.dumps({"error": "busy"}))
    started = time.monotonic()
    with pytest.raises(BookingSourceError, match="page 1: HTTP 503") as caught:
        fetched(fake_naver, COOKIES, max_attempts=3)
    assert not isinstance(caught.value, SourceRefused)
    assert fake_naver.state.api_calls == 3
    assert time.monotonic() - started < 5.0, "a 5xx's Retry-After is never slept on"


def test_retries_run_out(fake_naver: FakeNaver) -> None:
    fake_naver.state.fail_next = 10
    with pytest.raises(BookingSourceError):
        fetched(fake_naver, COOKIES, max_attempts=2)
    assert fake_naver.state.api_calls == 2


def test_lms_goes_with_a_valid_signature(fake_sens: FakeSens, transport: Make) -> None:
    text = "안녕하세요 " * 20
    lms = PlannedMessage("r", "b", "01012345678", text, "k", MessageKind.LMS)
    assert transport(fake_sens.url).send(lms) != ""
    assert fake_sens.state.sent[0]["type"] == "LMS" and fake_sens.state.rejected_signatures == 0
    assert fake_sens.state.sent[0]["messages"] == [{"to": "01012345678"}]


def test_a_wrong_secret_is_not_delivered_and_not_retried_in_the_send(
    fake_sens: FakeSens, transport: Make
) -> None:
    # The keys' refusal, not the message's: a later try (with the keys read again) may pass.
    wrong = SensCredentials(sens_fake.ACCESS_KEY, "wrong", sens_fake.SERVICE_ID, sens_fake.SENDER)
    with pytest.raises(NotDelivered, match="HTTP 401") as caught:
        transport(fake_sens.url, creds=wrong).send(MESSAGE)
    assert not isinstance(caught.value, Refused)
    assert fake_sens.state.received == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_is_unknown_and_never_retried(fake_sens: FakeSens, status: int, transport: Make) -> None:
    fake_sens.state.fail_next, fake_sens.state.fail_status = 5, status
    with pytest.raises(OutcomeUnknown, match=f"HTTP {status}"):
        transport(fake_sens.url).send(MESSAGE)
    assert fake_sens.state.received == 1


def test_a_slow_answer_is_unknown_and_never_retried(fake_sens: FakeSens, transport: Make) -> None:
    fake_sens.state.delay_seconds = 1.5
    with pytest.raises(OutcomeUnknown, match="no answer from SENS within 1 s"):
        transport(fake_sens.url).send(MESSAGE)
    assert fake_sens.state.received == 1


def test_a_connection_lost_after_sending_is_unknown(fake_sens: FakeSens, transport: Make) -> None:
    fake_sens.state.drop_next = 1
    with pytest.raises(OutcomeUnknown, match="connection to SENS lost after sending"):
        transport(fake_sens.url).send(MESSAGE)
    assert len(fake_sens.state.sent) == 1  # it did go out: resending would be a second SMS


def test_nobody_listening_is_not_delivered_after_every_attempt(transport: Make) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(NotDelivered, match="not reached after 3 attempts"):
            transport(f"http://127.0.0.1:{port}").send(MESSAGE)


def test_429_with_a_short_retry_after_is_retried_here(fake_sens: FakeSens, transport: Make) -> None:
    fake_sens.state.fail_next, fake_sens.state.fail_status, fake_sens.state.retry_after = 1, 429, ("0",)
    assert transport(fake_sens.url).send(MESSAGE) != ""
    assert (fake_sens.state.received, len(fake_sens.state.sent)) == (2, 1)


def test_429_with_a_long_retry_after_is_handed_to_the_caller(fake_sens: FakeSens, transport: Make) -> None:
    fake_sens.state.fail_next, fake_sens.state.fail_status, fake_sens.state.retry_after = 1, 429, ("30",)
    with pytest.raises(NotDelivered) as caught:
        transport(fake_sens.url).send(MESSAGE)
    assert caught.value.retry_after == 30.0
    assert fake_sens.state.received == 1


def test_a_redirect_is_refused_not_followed(fake_sens: FakeSens, transport: Make) -> None:
    fake_sens.state.fail_next, fake_sens.state.fail_status = 1, 307
    with pytest.raises(Refused, match="HTTP 307"):
        transport(fake_sens.url).send(MESSAGE)
    assert fake_sens.state.received == 1


@pytest.mark.parametrize("body_only", [True, False], ids=["trickled-body", "trickled-headers"])
def test_an_answer_that_trickles_in_ends_at_one_total_deadline(
    fake_sens: FakeSens, transport: Make, body_only: bool
) -> None:
    # A byte every 0.3 s never trips a read timeout of 1 s: only a deadline for the whole attempt ends it.
    fake_sens.state.trickle_seconds, fake_sens.state.trickle_body_only = 0.3, body_only
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown, match="no answer from SENS within 1 s"):
        transport(fake_sens.url).send(MESSAGE)
    assert time.monotonic() - started < 3.0, "the attempt outlived its deadline"
    assert (fake_sens.state.received, len(fake_sens.state.sent)) == (1, 1), "accepted, so never resent"


def test_a_deadline_does_not_cut_the_next_send_on_a_kept_alive_connection(fake_sens: FakeSens) -> None:
    # One transport reuses its connection: an attempt's deadline must only ever end its own attempt.
    async def sends() -> None:
        sender = SensTransport(fake_sens.url, CREDS, QUICK, pool_size=1)
        try:
            for _ in range(3):
                assert await sender.send(MESSAGE)
                await asyncio.sleep(0.4)
            await asyncio.sleep(1.0)  # past every attempt's deadline, on the kept-alive connection
            assert await sender.send(MESSAGE)
        finally:
            await sender.close()

    asyncio.run(sends())
    assert len(fake_sens.state.sent) == 4


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html><body>Welcome to the captive portal</body></html>"),
        (200, b'{"requestId": "r-1", "statusCode": "202", "statusName": "success"}'),
        (202, b'{"requestId": null, "statusCode": "202", "statusName": "success"}'),
        (202, b'{"requestId": "", "statusCode": "202"}'),
        (202, b'{"requestId": 12345, "statusCode": "202"}'),
        (202, b'{"requestId": "r-1", "statusCode": "400", "statusName": "fail"}'),
        (202, b'["requestId"]'),
        (204, b""),
    ],
    ids=["200-html", "200-sens-shaped", "null-id", "empty-id", "numeric-id", "fail-status", "list", "204"],
)
def test_a_2xx_that_is_not_sens_success_is_unknown_and_never_retried(
    fake_sens: FakeSens, transport: Make, status: int, body: bytes
) -> None:
    # Something other than SENS answered (a proxy, a wrong endpoint): reported, never resent.
    fake_sens.state.fail_next, fake_sens.state.fail_status, fake_sens.state.fail_body = 1, status, body
    with pytest.raises(OutcomeUnknown, match=f"not SENS's success \\(HTTP {status}"):
        transport(fake_sens.url).send(MESSAGE)
    assert fake_sens.state.received == 1


def test_only_sens_documented_success_is_sent(fake_sens: FakeSens, transport: Make) -> None:
    request_id = transport(fake_sens.url).send(MESSAGE)
    assert len(request_id) == 32 and len(fake_sens.state.sent) == 1


@pytest.mark.parametrize(
    ("values", "seconds"),
    [(("²",), None), (("120, 120",), 120.0), (("120", "120"), 120.0), (("5", "120"), 120.0), (("-1",), None)],
    ids=["superscript-two", "joined", "repeated", "repeated-differing", "negative"],
)
def test_retry_after_is_read_as_ascii_seconds_and_repeated_headers_at_their_longest(
    fake_sens: FakeSens, transport: Make, values: tuple[str, ...], seconds: float | None
) -> None:
    fake_sens.state.fail_next, fake_sens.state.fail_status, fake_sens.state.retry_after = 1, 429, values
    policy = SendPolicy(timeout=1.0, max_attempts=1, backoff=0.01, max_retry_after=2.0)
    with pytest.raises(NotDelivered) as caught:  # a 429 stays "not delivered", whatever its header
        transport(fake_sens.url, policy).send(MESSAGE)
    assert caught.value.retry_after == seconds


@pytest.mark.parametrize(
    ("environ", "url", "proxy"),
    [
        (
            {"HTTPS_PROXY": "http://proxy.internal:3128"},
            "https://sens.apigw.ntruss.com",
            "http://proxy.internal:3128",
        ),
        ({"HTTPS_PROXY": "http://proxy.internal:3128"}, "http://127.0.0.1:9", None),
        (
            {"HTTPS_PROXY": "http://proxy.internal:3128", "NO_PROXY": "sens.apigw.ntruss.com"},
            "https://sens.apigw.ntruss.com",
            None,
        ),
        ({}, "https://sens.apigw.ntruss.com", None),
    ],
)
def test_the_sens_transport_takes_its_proxy_from_the_environment_like_requests(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], url: str, proxy: str | None
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert environment_proxy(url) == proxy
    assert requests.utils.get_environ_proxies(url).get(url.split(":", maxsplit=1)[0]) == proxy
