"""Builds the scheduled run's real adapters (Selenium, HTTP, DynamoDB, SENS) from settings."""

from __future__ import annotations

import logging

from naver_sms.adapters.booking_api import HttpBookingSource
from naver_sms.adapters.browser import BrowserConfig
from naver_sms.adapters.dynamo_sent_log import DynamoSentLog
from naver_sms.adapters.naver_login import LoginPage, SeleniumNaverLogin
from naver_sms.adapters.rules_file import load_rules
from naver_sms.application.scheduled_run import RunDeps
from naver_sms.entrypoints.wiring import alerter, sms_transport
from naver_sms.settings import Settings

log = logging.getLogger(__name__)


def browser_config(settings: Settings) -> BrowserConfig:
    b = settings.model.browser
    return BrowserConfig(b.chrome_bin, b.chromedriver_bin, b.page_load_timeout_seconds)


def run_deps(settings: Settings, *, dry_run: bool) -> RunDeps:
    m = settings.model
    selectors = m.naver.selectors
    page = LoginPage(
        str(m.naver.login_url),
        selectors.username,
        selectors.password,
        selectors.submit,
        selectors.logged_in,
        selectors.error,
        m.naver.login_timeout_seconds,
    )
    return RunDeps(
        auth=SeleniumNaverLogin(
            browser_config(settings), page, m.naver.username.reveal(), m.naver.password.reveal()
        ),
        bookings=HttpBookingSource(
            str(m.naver.bookings_url),
            page_size=m.naver.page_size,
            timeout=m.http.timeout_seconds,
            max_attempts=m.http.max_attempts,
        ),
        rules=load_rules(settings.rules_path),
        transport=sms_transport(settings, dry_run=dry_run),
        sent_log=DynamoSentLog(m.sent_log.table),
    )


def send_alert(settings: Settings | None, text: str) -> None:
    if settings is None:
        log.warning("alert (settings unavailable)", extra={"alert": text})
        return
    try:
        alerter(settings).alert(text)
    except Exception as err:  # noqa: BLE001  (an alert must never mask the failure it reports)
        log.warning("alert failed", extra={"error": str(err)})
