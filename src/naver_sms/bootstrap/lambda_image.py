"""The Lambda image's composition root: the scheduled run's real adapters (Selenium, HTTP, DynamoDB,
SENS) from settings, run with one asyncio.run per invocation. Each adapter can be passed instead
(cosmicpython's bootstrap): the unit tests run this wiring with the fakes of tests/support/fakes.py."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from naver_sms.adapters.booking_api import HttpBookingSource
from naver_sms.adapters.browser import BrowserConfig
from naver_sms.adapters.dynamo_sent_log import DynamoOpenClaims, DynamoRecords, dynamo_sent_log
from naver_sms.adapters.naver_login import LoginPage, SeleniumNaverLogin
from naver_sms.adapters.seen_bookings import StoreSeenBookings
from naver_sms.adapters.sent_log import RecordStore, StoreSentLog
from naver_sms.adapters.slack import LogOnlyAlerter, SlackAlerter
from naver_sms.application.breaker import HeldMemory
from naver_sms.application.deadline import NO_DEADLINE, Deadline
from naver_sms.application.delivery import Outcome
from naver_sms.application.dry_run import decide_dry_run
from naver_sms.application.notify import Notifier
from naver_sms.application.ports import (
    Alerter,
    Authenticator,
    BookingSource,
    EventPublisher,
    OpenClaims,
    SeenBookings,
    SentLog,
    SentMessages,
    SmsTransport,
)
from naver_sms.application.reconcile import Reconciler
from naver_sms.application.scheduled_run import RunSummary, ScheduledRun
from naver_sms.application.send_policy import SendPolicy
from naver_sms.application.session import SessionKeeper
from naver_sms.bootstrap.login_guard import login_guard, naver_identity
from naver_sms.bootstrap.shared import (
    OPERATOR,
    deliverer,
    given,
    nats_credential_kind,
    nats_credentials,
    nats_servers,
    reconcile_settings,
    sent_messages,
    sms_transport,
)
from naver_sms.domain.rules import RuleSet
from naver_sms.settings import Settings
from naver_sms.settings.rules import load_rules

log = logging.getLogger(__name__)
SENDS_AT_ONCE = 1  # a scheduled run sends its messages one after another
# After the last send: the sweep, up to three Slack alerts (5 s each at worst), the EMF line and the
# unknowns' acknowledgement.
DEADLINE_MARGIN_SECONDS = 30.0
# The most of the time a run can spare beyond its deadline's reserve that its reconcile pass may take
# (never more than `reconcile.budget_seconds`): the rest is for the sends.
RECONCILE_SHARE = 0.25


@dataclass(frozen=True)
class Warm:
    """What an execution environment keeps from one run to the next: the Naver session, and what the
    volume breaker last held."""

    sessions: SessionKeeper = field(default_factory=SessionKeeper)
    held: HeldMemory = field(default_factory=HeldMemory)


@functools.cache
def this_environment() -> Warm:
    """This process's Warm, made at its first run and kept for every later one: a warm Lambda is one
    process, so its next invocations reuse the session. Kept here rather than made by lambda_app at its
    import, because lambda_app imports this root only when a run needs it (it loads requests and
    aiohttp; the smoke check never does). A test passes a Warm of its own and never reaches this one."""
    return Warm()


def browser_config(settings: Settings) -> BrowserConfig:
    b = settings.browser
    return BrowserConfig(b.chrome_bin, b.chromedriver_bin, b.page_load_timeout_seconds)


def owner(request_id: str) -> str:
    """Who claims a message: this function and invocation, so an operator can find its logs."""
    return f"lambda:{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'local')}:{request_id}"


def operators_sent_log(settings: Settings) -> StoreSentLog:
    """The DynamoDB sent log as `make claims` reads it and `make reconcile` writes it (as OPERATOR)."""
    return dynamo_sent_log(settings.sent_log.table, OPERATOR)


def open_claims_of(settings: Settings) -> DynamoOpenClaims:
    """The table's records that need a look (its sparse `open` index): the sweep's and the reconciler's."""
    return DynamoOpenClaims(DynamoRecords(settings.sent_log.table))


def reconciler(
    settings: Settings,
    sent_log: StoreSentLog,
    open_claims: OpenClaims,
    *,
    messages: SentMessages | None = None,
    clock: Callable[[], float] = time.time,
) -> Reconciler:
    """A reconciler over the sent log and SENS's read side (built with the send's keys, or passed)."""
    return Reconciler(
        messages=given(messages, lambda: sent_messages(settings)),
        sent_log=sent_log,
        open_claims=open_claims,
        settings=reconcile_settings(settings),
        clock=clock,
    )


def notifier(
    settings: Settings,
    *,
    dry_run: bool,
    claimer: str,
    transport: SmsTransport | None = None,
    sent_log: SentLog | None = None,
    rules: RuleSet | None = None,
    clock: Callable[[], float] = time.time,
) -> Notifier:
    """The rules and the delivery core over the DynamoDB sent log (a dry run reads it too, so it reports
    what was sent as duplicates); `make preview` plans with the same one. `claimer` names the writer of
    the sent log built here; one passed in names its own."""
    return Notifier(
        given(rules, lambda: load_rules(settings.rules_path)),
        deliverer(
            settings,
            sms_transport(settings, dry_run=dry_run, concurrency=SENDS_AT_ONCE, override=transport),
            given(sent_log, lambda: dynamo_sent_log(settings.sent_log.table, claimer)),
            dry_run=dry_run,
            concurrency=SENDS_AT_ONCE,
            clock=clock,
        ),
    )


def deadline(settings: Settings, time_left: Callable[[], float] | None) -> Deadline:
    """Stop claiming while one more worst-case send, and the result, metrics and alert after it, fit."""
    if time_left is None:
        return NO_DEADLINE
    sms = settings.sms
    worst = SendPolicy(sms.timeout_seconds, sms.max_attempts).worst_case_seconds()
    return Deadline(time_left, worst + DEADLINE_MARGIN_SECONDS)


def naver_login(settings: Settings) -> SeleniumNaverLogin:
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

    def credentials() -> tuple[str, str]:  # read when a login happens, not here
        return settings.naver.username.reveal(), settings.naver.password.reveal()

    return SeleniumNaverLogin(browser_config(settings), page, credentials)


def booking_source(settings: Settings) -> HttpBookingSource:
    return HttpBookingSource(
        str(settings.naver.bookings_url),
        login_url=str(settings.naver.login_url),
        page_size=settings.naver.page_size,
        timeout=settings.http.timeout_seconds,
        max_attempts=settings.http.max_attempts,
    )


def scheduled_run(
    settings: Settings,
    *,
    requested_dry_run: bool | None,
    request_id: str,
    time_left: Callable[[], float] | None = None,
    warm: Warm | None = None,
    auth: Authenticator | None = None,
    bookings: BookingSource | None = None,
    transport: SmsTransport | None = None,
    sent_log: SentLog | None = None,
    open_claims: OpenClaims | None = None,
    sent_messages: SentMessages | None = None,
    guard_store: RecordStore | None = None,
    seen: SeenBookings | None = None,
    publisher: EventPublisher | None = None,
    rules: RuleSet | None = None,
    clock: Callable[[], float] = time.time,
) -> ScheduledRun:
    """The run, from settings; each keyword after `time_left` replaces one real adapter (None: the real
    one). The sweep and the reconcile pass list the default sent log's open records; a sent log passed
    in without its `open_claims` is neither swept nor reconciled. A real run reconciles before it plans
    (SENS's read side: `sent_messages`); a dry run records nothing, so it does not. The change feed's
    store of what was seen (`seen`) lives in the sent log's table: a sent log passed in without its
    `seen` derives no events. Its events go to the worker's stream when `events.nats_url` is set (or a
    `publisher` is passed), else this run sends their messages. Raises RealSendsNotAllowed before
    anything is built when the request asks for more than allowed."""
    dry_run = decide_dry_run(settings.sms_dry_run, requested_dry_run)
    if sent_log is None and open_claims is None:
        open_claims = open_claims_of(settings)
    feed = settings.events.effective_mode
    if sent_log is None and seen is None and feed != "off":
        seen = seen_bookings(settings, clock)
    log_ = given(sent_log, lambda: dynamo_sent_log(settings.sent_log.table, owner(request_id)))
    reconciles = None
    if isinstance(log_, StoreSentLog) and open_claims is not None:
        # Built when a real run's pass starts: a dry run skips it (and says so) and needs no SENS keys.
        reconciles = functools.partial(
            reconciler, settings, log_, open_claims, messages=sent_messages, clock=clock
        )
    warm = given(warm, this_environment)
    return ScheduledRun(
        auth=given(auth, lambda: naver_login(settings)),
        bookings=given(bookings, lambda: booking_source(settings)),
        notifier=notifier(
            settings,
            dry_run=dry_run,
            claimer=owner(request_id),
            transport=transport,
            sent_log=log_,
            rules=rules,
            clock=clock,
        ),
        sessions=warm.sessions,
        guard=login_guard(settings, store=guard_store, clock=clock),
        identity=naver_identity(settings),
        max_session_age_seconds=settings.naver.session_max_age_seconds,
        max_sends=settings.sms.max_per_run,
        held_memory=warm.held,
        deadline=deadline(settings, time_left),
        open_claims=open_claims,
        reconciler=reconciles,
        reconcile_share=RECONCILE_SHARE,
        seen=None if feed == "off" else seen,
        publisher=publisher if publisher is not None else event_publisher(settings),
    )


def seen_bookings(settings: Settings, clock: Callable[[], float] = time.time) -> SeenBookings:
    """The change feed's store: its records in the sent log's table."""
    return StoreSeenBookings(DynamoRecords(settings.sent_log.table), clock)


def event_publisher(settings: Settings) -> EventPublisher | None:
    """The change feed's publisher to the worker's stream (events.mode publish), or None: the run sends
    the events rules' messages itself (send), or derives no events (off). Which credentials is checked
    now; they are revealed at each publish, so one that cannot be read fails that publish, not the run.
    nats-py is imported only here, only then: a Lambda that does not publish never loads it."""
    events = settings.events
    if events.effective_mode != "publish":
        return None
    nats_credential_kind(events, "events")
    from naver_sms.adapters.nats_events import NatsEventPublisher  # noqa: PLC0415 - see the docstring

    return NatsEventPublisher(
        lambda: nats_servers(events.nats_url, nats_credentials(events, "events")),
        events.subject,
        events.stream,
        connect_seconds=events.connect_seconds,
        publish_timeout_seconds=events.publish_timeout_seconds,
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
