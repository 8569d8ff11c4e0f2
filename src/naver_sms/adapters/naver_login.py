"""Log in to Naver with a real browser and hand back the session cookies.

The login's outcome is read only from what the page shows: logged in (the logged-in selector is present
and no error is visible), or rejected (an error element is visible, and its text alone is reported).
Naver's page carries an empty, hidden error element on every load, so mere presence means nothing.
Anything else within the timeout (a captcha, a new-device check) is a LoginFailed naming the page's
title. Every text shown is whitespace-collapsed, stripped of the username and password, phone numbers
masked, and capped."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from naver_sms.adapters.browser import BrowserConfig, BrowserError, chrome_session
from naver_sms.application.errors import LoginFailed
from naver_sms.domain.phone import mask_phones_in

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

log = logging.getLogger(__name__)
SHOWN = 200  # characters of a page's text or title shown in an error
REDACTED = "***"


class BrowserDied(LoginFailed):
    """The browser went away mid-login; not an answer from the login page."""


@dataclass(frozen=True)
class LoginPage:
    url: str
    username_selector: str
    password_selector: str
    submit_selector: str
    logged_in_selector: str
    error_selector: str
    timeout_seconds: float


class SeleniumNaverLogin:
    def __init__(self, browser: BrowserConfig, page: LoginPage, username: str, password: str) -> None:
        self._browser = browser
        self._page = page
        self._username = username
        self._password = password

    async def login(self) -> Mapping[str, str]:
        # Selenium blocks: the login runs on a thread, so the event loop stays free.
        return await asyncio.to_thread(self._login)

    def _login(self) -> Mapping[str, str]:
        try:
            return self._login_once()
        except BrowserDied as err:
            # Single-process Chrome can die mid-page. Nothing is sent before a login, so a fresh browser
            # is safe to try, once: a browser that keeps dying is the run's error.
            log.warning(
                "browser died during login; trying once more in a fresh one", extra={"error": str(err)}
            )
        return self._login_once()

    def _login_once(self) -> Mapping[str, str]:
        from selenium.common.exceptions import (  # noqa: PLC0415
            InvalidSessionIdException,
            StaleElementReferenceException,
            TimeoutException,
            WebDriverException,
        )
        from selenium.webdriver.common.by import By  # noqa: PLC0415
        from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

        page = self._page
        try:
            with chrome_session(self._browser) as driver:
                try:
                    driver.get(page.url)
                    driver.find_element(By.CSS_SELECTOR, page.username_selector).send_keys(self._username)
                    driver.find_element(By.CSS_SELECTOR, page.password_selector).send_keys(self._password)
                    driver.find_element(By.CSS_SELECTOR, page.submit_selector).click()
                    # A page replaced mid-look leaves stale elements: looked at again on the next poll.
                    outcome = WebDriverWait(
                        driver, page.timeout_seconds, ignored_exceptions=(StaleElementReferenceException,)
                    ).until(self._outcome)
                    if isinstance(outcome, str):
                        raise LoginFailed(f"login rejected: {outcome!r}")
                    return {c["name"]: c["value"] for c in driver.get_cookies()}
                except TimeoutException as err:
                    raise LoginFailed(
                        f"no login result within {page.timeout_seconds:g} s at {page.url} "
                        f"(page title: {self._title(driver)!r})"
                    ) from err
                except InvalidSessionIdException as err:  # "the browser has closed the connection"
                    raise BrowserDied(f"login page {page.url}: {err.msg or type(err).__name__}") from err
                except WebDriverException as err:
                    raise LoginFailed(f"login page {page.url}: {err.msg or type(err).__name__}") from err
        except BrowserError as err:
            raise LoginFailed(str(err)) from err

    def _outcome(self, driver: WebDriver) -> str | bool:
        """The wait's condition: a visible error's text (shown safely) if the login was rejected, True if
        logged in with no error visible, False (wait on) otherwise."""
        from selenium.webdriver.common.by import By  # noqa: PLC0415

        for element in driver.find_elements(By.CSS_SELECTOR, self._page.error_selector):
            # .text of a displayed element is its rendered text: hidden parts of it are left out.
            if element.is_displayed() and element.text.strip():
                return self._shown(element.text)
        return bool(driver.find_elements(By.CSS_SELECTOR, self._page.logged_in_selector))

    def _title(self, driver: WebDriver) -> str:
        from selenium.common.exceptions import WebDriverException  # noqa: PLC0415

        try:
            return self._shown(driver.title)
        except WebDriverException as err:
            return f"unknown: {err.msg or type(err).__name__}"

    def _shown(self, text: str) -> str:
        """Page text fit for an error message: whitespace collapsed, the credentials replaced with ***
        even when the page echoes them, phone numbers masked, capped."""
        text = " ".join(self._redacted(text).split())
        text = mask_phones_in(self._redacted(text))
        return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"

    def _redacted(self, text: str) -> str:
        # The ID in any case (a page may echo it lowered); the password exactly, as it is case-sensitive
        # (a wrong password "wrong" leaves "Wrong ID or password" readable). Longest first.
        secrets = [(self._username, re.IGNORECASE), (self._password, re.NOFLAG)]
        for secret, flags in sorted(secrets, key=lambda pair: len(pair[0]), reverse=True):
            if secret.strip():
                text = re.sub(re.escape(secret), REDACTED, text, flags=flags)
        return text
