"""The Lambda image's composition root: the scheduled run's real adapters (Selenium, HTTP, DynamoDB,
SENS) from settings, run with one asyncio.run per invocation."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from datetime import datetime

from naver_sms.adapters.booking_api import HttpBookingSource
from naver_sms.adapters.browser import BrowserConfig
from naver_sms.adapters.dynamo_sent_log import DynamoOpenClaims, DynamoRecords, dynamo_sent_log
from naver_sms.adapters.naver_login import LoginPage, SeleniumNaverLogin
from naver_sms.adapters.sent_log import StoreSentLog
from naver_sms.adapters.slack import LogOnlyAlerter, SlackAlerter
from naver_sms.application.breaker import HeldMemory
from naver_sms.application.deadline import NO_DEADLINE, Deadline
from naver_sms.application.delivery import Outcome
from naver_sms.application.dry_run import decide_dry_run
from naver_sms.application.notify import Notifier
from naver_sms.application.ports import Alerter
from naver_sms.application.scheduled_run import RunSummary, ScheduledRun
from naver_sms.application.send_policy import SendPolicy
from naver_sms.application.session import SessionKeeper
from naver_sms.bootstrap.login_guard import login_guard, naver_identity
from naver_sms.bootstrap.shared import OPERATOR, deliverer, sms_transport
from naver_sms.settings import Settings
from naver_sms.settings.rules import load_rules

log = logging.getLogger(__name__)
SENDS_AT_ONCE = 1  # a scheduled run sends its messages one after another
# After the last send: the sweep, up to two Slack alerts (10 s each at worst), the EMF line and the
# unknowns' acknowledgement.
DEADLINE_MARGIN_SECONDS = 30.0
# The Naver session, and what the volume breaker last held, kept for the life of this execution
# environment (a warm Lambda's next runs).
SESSIONS = SessionKeeper()
HELD = HeldMemory()


def browser_config(settings: Settings) -> BrowserConfig:
    b = settings.browser
    return BrowserConfig(b.chrome_bin, b.chromedriver_bin, b.page_load_timeout_seconds)


def owner(request_id: str) -> str:
    """Who claims a message: this function and invocation, so an operator can find its logs."""
    return f"lambda:{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'local')}:{request_id}"


def operators_sent_log(settings: Settings) -> StoreSentLog:
    """The DynamoDB sent log as `make claims` reads it (as OPERATOR)."""
    return dynamo_sent_log(settings.sent_log.table, OPERATOR)


def notifier(settings: Settings, *, dry_run: bool, claimer: str) -> Notifier:
    """The rules and the delivery core over the DynamoDB sent log (a dry run reads it too, so it reports
    what was sent as duplicates); `make preview` plans with the same one."""
    return Notifier(
        load_rules(settings.rules_path),
        deliverer(
            settings,
            sms_transport(settings, dry_run=dry_run, concurrency=SENDS_AT_ONCE),
            dynamo_sent_log(settings.sent_log.table, claimer),
            dry_run=dry_run,
            concurrency=SENDS_AT_ONCE,
        ),
    )


def deadline(settings: Settings, time_left: Callable[[], float] | None) -> Deadline:
    """Stop claiming while one more worst-case send, and the result, metrics and alert after it, fit."""
    if time_left is None:
        return NO_DEADLINE
    sms = settings.sms
    worst = SendPolicy(sms.timeout_seconds, sms.max_attempts).worst_case_seconds()
    return Deadline(time_left, worst + DEADLINE_MARGIN_SECONDS)


def scheduled_run(
    settings: Settings,
    *,
    requested_dry_run: bool | None,
    request_id: str,
    time_left: Callable[[], float] | None = None,
) -> ScheduledRun:
    """Raises RealSendsNotAllowed before anything is built when the request asks for more than allowed."""
    dry_run = decide_dry_run(settings.sms_dry_run, requested_dry_run)
    selectors = settings.naver.selectors
    page = LoginPage(
        str(settings.naver.login_url),
        selectors.username,
        selectors.password,
        selectors.submit,
        selectors.logged_in,
        selectors.error,
        settings.naver.login_timeout_seconds,
    )
    claimer = owner(request_id)
    return ScheduledRun(
        auth=SeleniumNaverLogin(  # the credentials are read when a login happens, not here
            browser_config(settings),
            page,
            lambda: (settings.naver.username.reveal(), settings.naver.password.reveal()),
        ),
        bookings=HttpBookingSource(
            str(settings.naver.bookings_url),
            login_url=str(settings.naver.login_url),
            page_size=settings.naver.page_size,
            timeout=settings.http.timeout_seconds,
            max_attempts=settings.http.max_attempts,
        ),
        notifier=notifier(settings, dry_run=dry_run, claimer=claimer),
        sessions=SESSIONS,
        guard=login_guard(settings),
        identity=naver_identity(settings),
        max_session_age_seconds=settings.naver.session_max_age_seconds,
        max_sends=settings.sms.max_per_run,
        held_memory=HELD,
        deadline=deadline(settings, time_left),
        open_claims=DynamoOpenClaims(DynamoRecords(settings.sent_log.table)),
    )


def run_once(run: ScheduledRun, *, allow_sends: int | None) -> RunSummary:
    """One invocation's event loop: the run, then its SMS connections closed (they belong to the loop)."""

    async def once() -> RunSummary:
        try:
            return await run(datetime.now(run.notifier.rules.timezone), allow_sends=allow_sends)
        finally:
            await run.notifier.deliverer.transport.close()

    return asyncio.run(once())


def acknowledge(run: ScheduledRun) -> None:
    """Record the run's unknowns as reported (its own loop: the run's has closed)."""
    keys = [d.idempotency_key for d in run.done if d.outcome is Outcome.UNKNOWN]
    if keys:
        sent_log = run.notifier.deliverer.sent_log

        async def each() -> None:
            for key in keys:
                await sent_log.reported(key)

        asyncio.run(each())


def alerter(settings: Settings) -> Alerter:
    webhook = settings.alerts.slack_webhook_url
    return SlackAlerter(webhook.reveal()) if webhook.is_set else LogOnlyAlerter()


def send_alert(settings: Settings | None, text: str) -> None:
    # An alert carries an error's text (a login page's, a provider's): no phone number leaves in it.
    from naver_sms.domain.phone import mask_phones_in  # noqa: PLC0415  (kept within this function)

    text = mask_phones_in(text)
    if settings is None:
        log.warning("alert (settings unavailable)", extra={"alert": text})
        return
    try:
        alerter(settings).alert(text)
    except Exception as err:  # noqa: BLE001  (an alert must never mask the failure it reports)
        log.warning("alert failed", extra={"error": str(err)})
