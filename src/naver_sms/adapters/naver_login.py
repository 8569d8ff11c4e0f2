"""Log in to Naver with a real browser and hand back the session cookies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from naver_sms.adapters.browser import BrowserConfig, BrowserError, chrome_session
from naver_sms.application.errors import LoginFailed

log = logging.getLogger(__name__)


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
            TimeoutException,
            WebDriverException,
        )
        from selenium.webdriver.common.by import By  # noqa: PLC0415
        from selenium.webdriver.support import expected_conditions as ec  # noqa: PLC0415
        from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

        page = self._page
        try:
            with chrome_session(self._browser) as driver:
                try:
                    driver.get(page.url)
                    driver.find_element(By.CSS_SELECTOR, page.username_selector).send_keys(self._username)
                    driver.find_element(By.CSS_SELECTOR, page.password_selector).send_keys(self._password)
                    driver.find_element(By.CSS_SELECTOR, page.submit_selector).click()
                    outcome = WebDriverWait(driver, page.timeout_seconds).until(
                        ec.any_of(
                            ec.presence_of_element_located((By.CSS_SELECTOR, page.logged_in_selector)),
                            ec.presence_of_element_located((By.CSS_SELECTOR, page.error_selector)),
                        )
                    )
                    if driver.find_elements(By.CSS_SELECTOR, page.error_selector):
                        raise LoginFailed(f"login rejected: {outcome.text.strip()[:200]!r}")
                    return {c["name"]: c["value"] for c in driver.get_cookies()}
                except TimeoutException as err:
                    raise LoginFailed(
                        f"no login result within {page.timeout_seconds:g} s at {page.url}"
                    ) from err
                except InvalidSessionIdException as err:  # "the browser has closed the connection"
                    raise BrowserDied(f"login page {page.url}: {err.msg or type(err).__name__}") from err
                except WebDriverException as err:
                    raise LoginFailed(f"login page {page.url}: {err.msg or type(err).__name__}") from err
        except BrowserError as err:
            raise LoginFailed(str(err)) from err
