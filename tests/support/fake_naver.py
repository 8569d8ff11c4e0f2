"""A stand-in for Naver: a login form driven by real Chromium, and the paginated booking JSON API."""

from __future__ import annotations

import contextlib
import html
import json
import os
import secrets
import signal
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlparse

from tests.support.http_server import LocalHttpServer, QuietHandler
from tests.support.proctree import descendants

SESSION = "NID_SES"
# As Naver's: an empty, hidden error element on every load of the login page.
LOGIN_FORM = """<!doctype html><title>login</title>
<form method="post" action="/login"><input id="id" name="id"><input id="pw" name="pw" type="password">
<button id="log.login" type="submit">Log in</button></form><div id="err_common" style="display:none"></div>"""
HOME = '<!doctype html><title>home</title><div id="account">signed in</div>'
# A good login whose page still carries a hidden error element with stale text: it must succeed.
HOME_WITH_HIDDEN_ERROR = (
    '<!doctype html><title>home</title><div id="account">signed in</div>'
    '<div id="err_common" style="display:none">some stale text: Wrong ID or password</div>'
)
# The typed ID is echoed back, as some pages do: a test proves it never reaches the message.
REJECTED = (
    '<!doctype html><title>login</title><p id="account_hint">{username}</p>'
    '<div id="err_common">{username}: Wrong ID or password</div>'
)
# No #account and no visible #err_common: the login neither succeeds nor says why.
CAPTCHA = (
    '<!doctype html><title>captcha</title><form><img id="captchaimg" alt="captcha" src="data:,">'
    '<p>Type the characters you see in the picture</p><input id="captcha"></form>'
    '<div id="err_common" style="display:none"></div>'
)
CHALLENGE = (
    "<!doctype html><title>new device check</title><h1>Is this you, {username}?</h1>"
    "<p>A login from a new device: confirm it in the Naver app.</p>"
)
# A JS alert on the page after the POST, echoing the ID (upper-cased), the password (whitespace
# collapsed) and a phone number, as an account-protection notice might: none may reach a message.
ALERT = (
    "<!doctype html><title>login</title><script>alert({text})</script>"
    '<div id="err_common" style="display:none"></div>'
)
ALERT_TEXT = "{username} 계정 보호조치: 010-1234-5678 로 문의 (비밀번호 {password})"
LoginOutcome = Literal["ok", "captcha", "challenge", "hidden_error", "alert"]


@dataclass
class NaverState:
    username: str = "owner"
    password: str = "s3cret"
    bookings: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    fail_next: int = 0  # how many API calls answer 503 before it recovers
    api_calls: int = 0
    logins: int = 0
    kill_browser_next: int = 0  # how many login page loads kill -9 the browser asking for them
    kill_driver_next: int = 0  # how many login page loads kill -9 the chromedriver (and its browser)
    # The next POST to /login (counted, never answered) kill -9s the browser, or the chromedriver and
    # its browser: a crash after the form has reached Naver.
    kill_on_post: Literal["browser", "driver"] | None = None
    # Sessions it knows: "valid" for tests that call the API with cookies of their own, and one new
    # token per login, which it can forget as Naver forgets a session.
    sessions: set[str] = field(default_factory=lambda: {"valid"})
    # How it answers a call whose session it does not know (or has forgotten).
    session_end: Literal["401", "403", "redirect", "login_page"] = "401"
    forget_at_page: int | None = None  # the next call for this page forgets every session first
    issued: list[str] = field(default_factory=list)  # every session token it gave, forgotten or not
    # While set, every booking API call is answered this (status, headers, body), logged in or not:
    # a rate limit (429, 403 + Retry-After) or a WAF's HTML page.
    refuse_api: tuple[int, dict[str, str], str | bytes] | None = None  # bytes: sent as they are
    # What a POST with the right password answers: the home page ("ok"); a captcha or a new-device
    # check (neither logged in nor a visible error); the home page with a hidden, stale error; or a
    # page whose alert echoes the ID, the password and a phone number.
    login_outcome: LoginOutcome = "ok"
    login_posts: int = 0  # every POST to /login, right password or not
    # Paths a GET is answered 302 for, to this Location (a path, or another server's URL) with the
    # request's query appended: an API that moved, within its host or to another one.
    redirects: dict[str, str] = field(default_factory=dict)
    # Every GET it was sent: (path, its Cookie header or None), to show where a session went.
    gets: list[tuple[str, str | None]] = field(default_factory=list)

    def forget_sessions(self) -> None:
        self.sessions.clear()


def kill_browsers() -> None:
    """kill -9 every Chrome this test process started (not its chromedriver), as a crash would."""
    for process in descendants(os.getpid()):
        if "chrom" in process.command and "chromedriver" not in process.command:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


def kill_drivers() -> None:
    """kill -9 every chromedriver this test process started and the browsers below them, as an
    out-of-memory kill would: the client's next call finds no driver (urllib3's MaxRetryError)."""
    for process in descendants(os.getpid()):
        if "chrom" in process.command:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


def _handler(state: NaverState) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def _send(
            self,
            status: int,
            body: str | bytes,
            content_type: str | None = "text/html",
            headers: dict[str, str] | None = None,
        ) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            if content_type is not None:
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            state.gets.append((url.path, self.headers.get("Cookie")))
            if url.path in state.redirects:
                query = f"?{url.query}" if url.query else ""
                self._send(302, "", headers={"Location": state.redirects[url.path] + query})
            elif url.path == "/login" and state.kill_browser_next > 0:
                state.kill_browser_next -= 1
                kill_browsers()  # mid-request: the page never arrives
            elif url.path == "/login" and state.kill_driver_next > 0:
                state.kill_driver_next -= 1
                kill_drivers()
            elif url.path == "/login":
                self._send(200, LOGIN_FORM)
            elif url.path == "/home":
                self._send(200, HOME_WITH_HIDDEN_ERROR if state.login_outcome == "hidden_error" else HOME)
            elif url.path == "/api/bookings":
                self._bookings(parse_qs(url.query))
            else:
                self._send(404, "not found")

        def do_PUT(self) -> None:
            # A test outside the process sets the bookings the API returns (a container's fake).
            if urlparse(self.path).path != "/control/bookings":
                self._send(404, "not found")
                return
            length = int(self.headers.get("Content-Length", 0))
            state.bookings = json.loads(self.rfile.read(length))
            self._send(
                200, json.dumps({"bookings": len(state.bookings), "logins": state.logins}), "application/json"
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            state.login_posts += 1
            if state.kill_on_post is not None:
                kill, state.kill_on_post = state.kill_on_post, None
                if kill == "browser":
                    kill_browsers()
                else:
                    kill_drivers()
                return  # the answer never arrives
            typed = html.escape(form.get("id", [""])[0])
            if form.get("id") != [state.username] or form.get("pw") != [state.password]:
                self._send(200, REJECTED.format(username=typed))
            elif state.login_outcome == "captcha":
                self._send(200, CAPTCHA)
            elif state.login_outcome == "challenge":
                self._send(200, CHALLENGE.format(username=typed))
            elif state.login_outcome == "alert":
                text = ALERT_TEXT.format(
                    username=state.username.upper(), password=" ".join(state.password.split())
                )
                self._send(200, ALERT.format(text=json.dumps(text).replace("</", "<\\/")))
            else:
                state.logins += 1
                token = f"s{state.logins}-{secrets.token_hex(8)}"
                state.sessions.add(token)
                state.issued.append(token)
                self._send(303, "", headers={"Location": "/home", "Set-Cookie": f"{SESSION}={token}; Path=/"})

        def _session(self) -> str | None:
            cookies = SimpleCookie(self.headers.get("Cookie") or "")
            return cookies[SESSION].value if SESSION in cookies else None

        def _not_logged_in(self) -> None:
            if state.session_end in ("401", "403"):
                self._send(int(state.session_end), json.dumps({"error": "not logged in"}), "application/json")
            elif state.session_end == "redirect":
                self._send(302, "", headers={"Location": "/login?next=/api/bookings"})
            else:  # the login page itself, 200, where the client asked for JSON
                self._send(200, LOGIN_FORM)

        def _bookings(self, query: dict[str, list[str]]) -> None:
            state.api_calls += 1
            if state.refuse_api is not None:
                status, headers, body = state.refuse_api
                typed = any(name.lower() == "content-type" for name in headers)
                self._send(status, body, None if typed else "text/plain", headers)
                return
            page = int(query.get("page", ["1"])[0])
            if state.forget_at_page == page:
                state.forget_at_page = None
                state.forget_sessions()
            if self._session() not in state.sessions:
                self._not_logged_in()
                return
            if state.fail_next > 0:
                state.fail_next -= 1
                self._send(503, json.dumps({"error": "busy"}), "application/json")
                return
            size = state.page_size
            chunk = state.bookings[(page - 1) * size : page * size]
            more = page * size < len(state.bookings)
            body = {"bookings": chunk, "next_page": page + 1 if more else None}
            self._send(200, json.dumps(body), "application/json")

    return Handler


class FakeNaver(LocalHttpServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = NaverState()
        super().__init__(_handler(self.state), host, port)

    def env(self) -> dict[str, str]:
        return {
            "NAVER_LOGIN_URL": f"{self.url}/login",
            "NAVER_BOOKINGS_URL": f"{self.url}/api/bookings",
            "NAVER_USERNAME": self.state.username,
            "NAVER_PASSWORD": self.state.password,
        }


if __name__ == "__main__":
    # `python -m tests.support.fake_naver [PORT]`: serve until stopped on every interface (a container's
    # network), at PORT (8080). The API returns FAKE_BOOKINGS (a JSON list) from the start, so the first
    # run reads them, until `PUT /control/bookings` with a JSON list sets others.
    import sys
    import threading

    with FakeNaver("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 8080) as served:
        served.state.bookings = json.loads(os.environ.get("FAKE_BOOKINGS") or "[]")
        print(served.url, flush=True)
        threading.Event().wait()
