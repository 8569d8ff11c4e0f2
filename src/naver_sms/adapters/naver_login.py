"""Log in to Naver with a real browser and hand back the session cookies.

The login's outcome is read only from what the page shows: logged in (the logged-in selector is present
and no error is visible), or rejected (an error element is visible, and its text alone is reported).
Naver's page carries an empty, hidden error element on every load, so mere presence means nothing.
Anything else within the timeout (a captcha, a new-device check) is a LoginFailed naming the page's
title. Every text shown is whitespace-collapsed, stripped of the username and password, phone numbers
masked, and capped.

The username and password are asked for only when a login happens (a run that reuses its kept session
never reads them, so a secret store's hiccup cannot fail it), once per login: its retry in a fresh
browser, and every message it masks, use that one pair."""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping
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


Credentials = Callable[[], tuple[str, str]]  # (username, password), read when a login happens


class SeleniumNaverLogin:
    def __init__(self, browser: BrowserConfig, page: LoginPage, credentials: Credentials) -> None:
        self._browser = browser
        self._page = page
        self._credentials = credentials

    async def login(self) -> Mapping[str, str]:
        # Selenium blocks: the login runs on a thread, so the event loop stays free.
        return await asyncio.to_thread(self._login)

    def _login(self) -> Mapping[str, str]:
        # Read here, once: a secret that cannot be read fails this login (its error, as it is), and
        # nothing else. Both tries below, and every text they show, go with this one pair.
        username, password = self._credentials()
        attempt = _Login(self._browser, self._page, username, password)
        try:
            return attempt.once()
        except BrowserDied as err:
            # Single-process Chrome can die mid-page. BrowserDied means it died BEFORE the form was
            # submitted (after the click it is a plain LoginFailed): nothing reached Naver, so a fresh
            # browser is safe to try, once. The guard counted one login; it still makes one submit at
            # most. A browser that keeps dying is the run's error.
            log.warning(
                "browser died during login; trying once more in a fresh one", extra={"error": str(err)}
            )
        return attempt.once()


class _Login:
    """One login with one username and password: its tries in a browser, and the texts it shows."""

    def __init__(self, browser: BrowserConfig, page: LoginPage, username: str, password: str) -> None:
        self._browser = browser
        self._page = page
        self._username = username
        self._password = password

    def once(self) -> Mapping[str, str]:
        from selenium.common.exceptions import (  # noqa: PLC0415
            InvalidSessionIdException,
            StaleElementReferenceException,
            TimeoutException,
            UnexpectedAlertPresentException,
            WebDriverException,
        )
        from selenium.webdriver.common.by import By  # noqa: PLC0415
        from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

        page = self._page
        submitted = False  # set just before the click: from then on the form may have reached Naver
        try:
            with chrome_session(self._browser) as driver:
                try:
                    driver.get(page.url)
                    driver.find_element(By.CSS_SELECTOR, page.username_selector).send_keys(self._username)
                    driver.find_element(By.CSS_SELECTOR, page.password_selector).send_keys(self._password)
                    submit = driver.find_element(By.CSS_SELECTOR, page.submit_selector)
                    submitted = True  # a click that fails midway may still have sent the form
                    submit.click()
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
                except UnexpectedAlertPresentException as err:  # its text may echo the ID, a phone
                    shown = self._shown(err.alert_text or err.msg or "")
                    raise LoginFailed(f"login page {page.url}: the page showed an alert: {shown!r}") from err
                except InvalidSessionIdException as err:  # "the browser has closed the connection"
                    raise self._died(submitted, self._message(err)) from err
                except WebDriverException as err:
                    raise LoginFailed(f"login page {page.url}: {self._message(err)}") from err
        except LoginFailed:
            raise
        except BrowserError as err:
            raise LoginFailed(self._shown(str(err))) from err
        except Exception as err:
            # The driver itself crashed or was killed (urllib3's MaxRetryError, a refused connection):
            # the browser session is gone, as when the browser dies. Never a plain exception: the run
            # reports a LoginFailed and the guard backs off.
            raise self._died(submitted, self._message(err)) from err

    def _died(self, submitted: bool, what: str) -> LoginFailed:
        """The error for a browser session that went away: BrowserDied (tried again in a fresh browser)
        only before the form was submitted; after it, a LoginFailed, as a second submit of one admitted
        login is what the login guard exists to prevent."""
        if submitted:
            return LoginFailed(
                f"the browser died after the login form was submitted at {self._page.url} "
                f"(not tried again: the login may have reached Naver): {what}"
            )
        return BrowserDied(f"login page {self._page.url}: {what}")

    def _message(self, err: BaseException) -> str:
        """An exception shown safely: a WebDriverException's message, or any other's type and text."""
        from selenium.common.exceptions import WebDriverException  # noqa: PLC0415

        if isinstance(err, WebDriverException):
            return self._shown(err.msg) if err.msg else type(err).__name__
        text = self._shown(str(err))
        return f"{type(err).__name__}: {text}" if text else type(err).__name__

    def _outcome(self, driver: WebDriver) -> str | bool:
        """The wait's condition: a visible error's text (shown safely) if the login was rejected, True if
        logged in with no error visible, False (wait on) otherwise."""
        from selenium.common.exceptions import (  # noqa: PLC0415
            InvalidSessionIdException,
            UnexpectedAlertPresentException,
            WebDriverException,
        )
        from selenium.webdriver.common.by import By  # noqa: PLC0415

        for element in driver.find_elements(By.CSS_SELECTOR, self._page.error_selector):
            try:
                # .text of a displayed element is its rendered text: hidden parts of it are left out.
                if element.is_displayed() and element.text.strip():
                    return self._shown(element.text)
            except (InvalidSessionIdException, UnexpectedAlertPresentException):
                raise  # the browser is gone, or the page answered with an alert: an outcome of its own
            except WebDriverException:
                # The page was replaced under the look (Chrome: "Node with given id does not belong to
                # the document", or a stale element): look again on the next poll.
                return False
        return bool(driver.find_elements(By.CSS_SELECTOR, self._page.logged_in_selector))

    def _title(self, driver: WebDriver) -> str:
        try:
            return self._shown(driver.title)
        except Exception as err:  # noqa: BLE001  (a dead driver: the title is unknown, the error stands)
            return f"unknown: {self._message(err)}"

    def _shown(self, text: str) -> str:
        """Text fit for an error message (a page's, an alert's, a driver's): the credentials replaced
        with *** even when the page echoes them, whitespace collapsed, NFKC-normalised, phone numbers
        masked, capped."""
        text = self._redacted(text)  # as typed
        text = unicodedata.normalize("NFKC", " ".join(text.split()))
        text = mask_phones_in(self._redacted(text))  # as a page may show them: collapsed, normalised
        return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"

    def _redacted(self, text: str) -> str:
        """`text` with every occurrence of the ID or the password replaced with ***.

        The ID in any case and any compatibility form (a page may echo it lowered or full-width): both
        sides casefolded and NFKC-normalised before the search. The password exactly, as it is
        case-sensitive (a wrong password "wrong" leaves "Wrong ID or password" readable), but with any
        whitespace run where it has one (a page collapses them). Overlapping matches are replaced as one.
        """
        spans: list[tuple[int, int]] = []
        for password in {self._password, unicodedata.normalize("NFKC", self._password)}:
            if password.split():
                pattern = r"\s+".join(re.escape(part) for part in password.split())
                spans += [match.span() for match in re.finditer(pattern, text)]
        username = " ".join(unicodedata.normalize("NFKC", self._username).split())
        needle = _folded(username)[0]
        if needle:
            folded, owners = _folded(text)
            at = folded.find(needle)
            while at >= 0:
                spans.append((owners[at], owners[at + len(needle) - 1] + 1))
                at = folded.find(needle, at + 1)
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:  # overlapping or touching: one ***
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        shown, done = [], 0
        for start, end in merged:
            shown += [text[done:start], REDACTED]
            done = end
        return "".join([*shown, text[done:]])


def _folded(text: str) -> tuple[str, list[int]]:
    """`text` casefolded and NFKC-normalised one character at a time, and for each character of the
    result the index in `text` of the character it came from (casefolding may lengthen: ß → ss)."""
    folded: list[str] = []
    owners: list[int] = []
    for index, char in enumerate(text):
        part = unicodedata.normalize("NFKC", char.casefold())
        folded.append(part)
        owners += [index] * len(part)
    return "".join(folded), owners
