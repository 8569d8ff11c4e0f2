"""SeleniumNaverLogin in real Chromium against the fake Naver: the outcome is read only from what the
page shows, and no message carries the credentials or another element's text."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from typing import Literal

import pytest
from selenium.common.exceptions import WebDriverException

import main
from naver_sms.adapters.browser import BrowserConfig
from naver_sms.adapters.naver_login import BrowserDied, LoginPage, SeleniumNaverLogin, _Login
from naver_sms.application.errors import LoginFailed, error_type
from naver_sms.bootstrap import lambda_image
from naver_sms.settings import Settings
from tests.support.bookings import mixed_bookings
from tests.support.fake_naver import SESSION, FakeNaver
from tests.support.fake_sens import FakeSens
from tests.support.moto import create_sent_log_table
from tests.support.proctree import descendants

TIMEOUT = 2.0  # the settings' 20 s, lowered: a page that never says how the login went


def log_in(
    naver: FakeNaver, env: dict[str, str], *, username: str | None = None, password: str | None = None
) -> Mapping[str, str]:
    page = LoginPage(f"{naver.url}/login", "#id", "#pw", "#log\\.login", "#account", "#err_common", TIMEOUT)
    credentials = (
        naver.state.username if username is None else username,
        naver.state.password if password is None else password,
    )
    login = SeleniumNaverLogin(
        BrowserConfig(env["CHROME_BIN"], env["CHROMEDRIVER_BIN"], page_load_timeout_seconds=30),
        page,
        lambda: credentials,
    )
    return asyncio.run(login.login())


def test_a_good_login_hands_back_the_session_cookie(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    # The login form carries Naver's empty, hidden #err_common too: its presence is no rejection.
    cookies = log_in(fake_naver, browser_env)
    assert cookies[SESSION] == fake_naver.state.issued[-1]
    assert (fake_naver.state.login_posts, fake_naver.state.logins) == (1, 1)


def test_a_hidden_error_element_on_a_good_login_does_not_fail_it(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    fake_naver.state.login_outcome = "hidden_error"
    started = time.monotonic()
    cookies = log_in(fake_naver, browser_env)
    assert cookies[SESSION] == fake_naver.state.issued[-1]
    assert time.monotonic() - started < TIMEOUT + 10, "logged in without waiting out the timeout"


def test_a_wrong_password_shows_the_visible_error_without_the_username(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    with pytest.raises(LoginFailed) as caught:
        log_in(fake_naver, browser_env, password="wrong")
    message = str(caught.value)
    # Only #err_common's text, the typed ID it echoes replaced; never #account_hint's (the ID again).
    assert message == "login rejected: '***: Wrong ID or password'"
    assert error_type(caught.value) == "LoginFailed"
    assert (fake_naver.state.login_posts, fake_naver.state.logins) == (1, 0), "a rejection is not retried"


def test_a_username_that_is_a_phone_number_never_shows(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    with pytest.raises(LoginFailed) as caught:
        log_in(fake_naver, browser_env, username="010-9876-5432", password="wrong")
    assert str(caught.value) == "login rejected: '***: Wrong ID or password'"


def test_a_password_the_page_shows_never_reaches_the_message(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    # The password matched exactly (it is case-sensitive); here the page's own "Wrong" is that password.
    with pytest.raises(LoginFailed) as caught:
        log_in(fake_naver, browser_env, password="Wrong")
    assert str(caught.value) == "login rejected: '***: *** ID or password'"


@pytest.mark.parametrize(
    ("outcome", "title"),
    [("captcha", "captcha"), ("challenge", "new device check")],
    ids=["captcha", "challenge"],
)
def test_a_page_that_neither_logs_in_nor_shows_an_error_fails_after_the_timeout(
    fake_naver: FakeNaver, browser_env: dict[str, str], outcome: str, title: str
) -> None:
    fake_naver.state.login_outcome = outcome  # type: ignore[assignment]
    started = time.monotonic()
    with pytest.raises(LoginFailed) as caught:
        log_in(fake_naver, browser_env)
    took = time.monotonic() - started
    assert str(caught.value) == (
        f"no login result within {TIMEOUT:g} s at {fake_naver.url}/login (page title: {title!r})"
    )
    assert error_type(caught.value) == "LoginFailed"
    assert TIMEOUT <= took < TIMEOUT + 15
    assert (fake_naver.state.login_posts, fake_naver.state.logins) == (1, 0), "no second try"


# A browser or driver that dies: at most one submit per admitted login


@pytest.mark.parametrize("kill", ["browser", "driver"])
def test_a_browser_or_driver_that_dies_after_the_submit_is_never_submitted_again(
    fake_naver: FakeNaver, browser_env: dict[str, str], kill: Literal["browser", "driver"]
) -> None:
    # The form reached Naver, then the browser (or chromedriver) was killed: a fresh browser would
    # submit one admitted login twice. A plain LoginFailed, which the guard backs off on.
    fake_naver.state.kill_on_post = kill
    with pytest.raises(LoginFailed) as caught:
        log_in(fake_naver, browser_env)
    assert type(caught.value) is LoginFailed, "not a BrowserDied: nothing tries it again"
    message = str(caught.value)
    assert message.startswith(
        f"the browser died after the login form was submitted at {fake_naver.url}/login"
    )
    assert fake_naver.state.login_posts == 1
    assert fake_naver.state.username not in message and fake_naver.state.password not in message
    assert [p.command for p in descendants(os.getpid()) if "chrom" in p.command] == []


def test_a_driver_crash_names_its_type_in_a_login_failed(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    # chromedriver killed mid-login (out of memory, say): urllib3's errors, not Selenium's, and never
    # a plain exception that would skip the guard's backoff.
    fake_naver.state.kill_on_post = "driver"
    with pytest.raises(LoginFailed) as caught:
        log_in(fake_naver, browser_env)
    crash = caught.value.__cause__
    assert crash is not None and not isinstance(crash, WebDriverException)  # urllib3's
    assert f": {type(crash).__name__}: " in str(caught.value)
    assert error_type(caught.value) == "LoginFailed"


def test_a_driver_killed_before_the_submit_gets_one_fresh_start(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    fake_naver.state.kill_driver_next = 1  # the login page's load kills chromedriver and its browser
    cookies = log_in(fake_naver, browser_env)
    assert cookies[SESSION] == fake_naver.state.issued[-1]
    assert (fake_naver.state.kill_driver_next, fake_naver.state.login_posts) == (0, 1)


def test_a_driver_that_keeps_dying_before_the_submit_is_a_login_failed(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    fake_naver.state.kill_driver_next = 2
    with pytest.raises(BrowserDied) as caught:
        log_in(fake_naver, browser_env)
    # A LoginFailed to the run (the guard backs off), named for what happened in its result.
    assert isinstance(caught.value, LoginFailed) and error_type(caught.value) == "BrowserDied"
    assert str(caught.value).startswith(f"login page {fake_naver.url}/login: ")
    assert (fake_naver.state.kill_driver_next, fake_naver.state.login_posts) == (0, 0)


# The credentials are read when a login happens, once per login


def test_the_credentials_are_read_once_per_login_when_it_happens_its_fresh_start_included(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    reads: list[str] = []

    def credentials() -> tuple[str, str]:
        reads.append("read")
        return fake_naver.state.username, fake_naver.state.password

    page = LoginPage(
        f"{fake_naver.url}/login", "#id", "#pw", "#log\\.login", "#account", "#err_common", TIMEOUT
    )
    login = SeleniumNaverLogin(
        BrowserConfig(browser_env["CHROME_BIN"], browser_env["CHROMEDRIVER_BIN"], 30), page, credentials
    )
    assert reads == [], "not when it is built"
    fake_naver.state.kill_driver_next = 1  # the first browser dies before the submit: one fresh start
    cookies = asyncio.run(login.login())
    assert cookies[SESSION] == fake_naver.state.issued[-1]
    assert (fake_naver.state.kill_driver_next, fake_naver.state.login_posts) == (0, 1)
    assert reads == ["read"], "one read for the login, its second browser included"


def test_a_run_that_reuses_its_kept_session_never_reads_the_naver_credentials(
    monkeypatch: pytest.MonkeyPatch,
    browser_env: dict[str, str],
    aws: str,
    fake_naver: FakeNaver,
    fake_sens: FakeSens,
) -> None:
    # Secrets Manager has no such secret (as if it could not be reached): only a login needs it.
    create_sent_log_table()
    fake_naver.state.bookings = mixed_bookings()
    for name, value in {**fake_naver.env(), **fake_sens.env()}.items():
        monkeypatch.setenv(name, value)
    first = main.lambda_handler({"action": "run"}, None)
    assert (first["status"], first["login"]) == ("ok", "fresh")
    monkeypatch.setenv("NAVER_PASSWORD", "secretsmanager:naver-sms/absent#password")
    warm = main.lambda_handler({"action": "run"}, None)
    assert (warm["status"], warm["login"]) == ("ok", "reused")
    fake_naver.state.forget_sessions()  # now a login is needed, and its secret cannot be read
    cold = main.lambda_handler({"action": "run"}, None)
    assert cold["status"] == "error" and cold["error"]["type"] == "SecretUnavailable"
    assert "naver.password" in cold["error"]["message"]
    assert fake_naver.state.logins == 1 and fake_naver.state.login_posts == 1


# Secrets and phone numbers never reach a message, whatever carries them


def test_an_alert_echoing_the_credentials_and_a_phone_shows_none_of_them(
    fake_naver: FakeNaver, browser_env: dict[str, str]
) -> None:
    # The alert echoes the ID upper-cased and the password with its whitespace collapsed.
    fake_naver.state.username, fake_naver.state.password = "ShopOwner77", "hunter2  with   spaces"
    fake_naver.state.login_outcome = "alert"
    with pytest.raises(LoginFailed) as caught:
        log_in(fake_naver, browser_env)
    assert str(caught.value) == (
        f"login page {fake_naver.url}/login: the page showed an alert: "
        "'*** 계정 보호조치: 010****5678 로 문의 (비밀번호 ***)'"
    )
    assert (fake_naver.state.login_posts, fake_naver.state.logins) == (1, 0), "no second try"


FULL_WIDTH_ID = "".join(chr(ord(char) + 0xFEE0) for char in "SHOPOWNER77")


@pytest.mark.parametrize(
    ("username", "password", "text", "shown"),
    [
        ("ShopOwner77", "pw", FULL_WIDTH_ID + ": locked", "***: locked"),  # full-width, upper
        ("shopowner77", "pw", "ShopOwner77ShopOwner77 again", "*** again"),  # overlapping: one ***
        ("Straße", "pw", "STRASSE is locked", "*** is locked"),  # casefolding lengthens
        ("owner", "my  secret\tpw", "pw: my\n secret pw! 010 1234 5678", "pw: ***! 010****5678"),
        ("owner", "Wrong", "wrong: Wrong ID", "wrong: *** ID"),  # the password stays case-sensitive
        ("owner", "pw", "x" * 300, "x" * 199 + "…"),
    ],
    ids=["nfkc-case", "overlap", "casefold", "password-whitespace", "password-case", "capped"],
)
def test_shown_text_is_masked_however_the_page_writes_the_secrets(
    username: str, password: str, text: str, shown: str
) -> None:
    page = LoginPage("https://nid.naver.com/nidlogin.login", "#id", "#pw", "#b", "#a", "#e", TIMEOUT)
    login = _Login(BrowserConfig("chrome", "chromedriver", 30), page, username, password)
    assert login._shown(text) == shown


def test_an_alert_masks_the_phone_numbers_in_what_it_reports(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Whatever a login error carries (a page's text, a provider's), no phone number leaves in an alert.
    sent: list[str] = []

    class Recording:
        def alert(self, text: str) -> None:
            sent.append(text)

    monkeypatch.setattr(lambda_image, "alerter", lambda settings: Recording())
    text = "naver-sms run failed: LoginFailed: call 010-1234-5678 to unlock"
    lambda_image.send_alert(Settings.load(environ={}), text)
    assert sent == ["naver-sms run failed: LoginFailed: call 010****5678 to unlock"]
    with caplog.at_level("WARNING"):
        lambda_image.send_alert(None, text)
    assert [record.__dict__["alert"] for record in caplog.records] == [sent[0]]
