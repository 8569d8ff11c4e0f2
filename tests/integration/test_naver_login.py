"""SeleniumNaverLogin in real Chromium against the fake Naver: the outcome is read only from what the
page shows, and no message carries the credentials or another element's text."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import pytest

from naver_sms.adapters.browser import BrowserConfig
from naver_sms.adapters.naver_login import LoginPage, SeleniumNaverLogin
from naver_sms.application.errors import LoginFailed
from tests.support.fake_naver import SESSION, FakeNaver

TIMEOUT = 2.0  # the settings' 20 s, lowered: a page that never says how the login went


def log_in(
    naver: FakeNaver, env: dict[str, str], *, username: str | None = None, password: str | None = None
) -> Mapping[str, str]:
    page = LoginPage(f"{naver.url}/login", "#id", "#pw", "#log\\.login", "#account", "#err_common", TIMEOUT)
    login = SeleniumNaverLogin(
        BrowserConfig(env["CHROME_BIN"], env["CHROMEDRIVER_BIN"], page_load_timeout_seconds=30),
        page,
        naver.state.username if username is None else username,
        naver.state.password if password is None else password,
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
    assert caught.value.kind == "LoginFailed"
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
    assert caught.value.kind == "LoginFailed"
    assert TIMEOUT <= took < TIMEOUT + 15
    assert (fake_naver.state.login_posts, fake_naver.state.logins) == (1, 0), "no second try"
