"""The images' composition roots over the fakes of tests/support/fakes.py: the real wiring, from the
repo's settings, with each adapter that would reach a network or a browser replaced."""

from __future__ import annotations

import time
from typing import Any

from naver_sms.application.ports import SentLog, SmsTransport
from naver_sms.application.scheduled_run import ScheduledRun
from naver_sms.bootstrap import lambda_image
from naver_sms.bootstrap.login_guard import naver_identity
from naver_sms.domain.rules import RuleSet
from naver_sms.settings import Settings
from tests.support.fakes import FakeAuth, FakeBookingSource, FakeClock, FakeSentMessages, MemoryRecords

# An account to log in as, and real sends allowed (a dry run is asked for per run, as the Lambda's is).
UNIT_ENV = {"NAVER_USERNAME": "owner", "SMS_DRY_RUN": "false"}


def unit_settings(**env: str) -> Settings:
    """config/settings.yaml with UNIT_ENV and `env` over it, never the developer's shell."""
    return Settings.load(environ={**UNIT_ENV, **env})


IDENTITY = naver_identity(unit_settings())  # whose session the Lambda root's runs keep


def lambda_run(
    transport: SmsTransport,
    sent_log: SentLog,
    *,
    rules: RuleSet,
    dry_run: bool = False,
    settings: Settings | None = None,
    **overrides: Any,
) -> ScheduledRun:
    """lambda_image.scheduled_run as an invocation calls it, over fakes: a login that works, no
    bookings, a cold environment (a Warm of its own), an empty login-guard store and a SENS that lists
    nothing (read only when `open_claims` is passed: the sent log can then be reconciled), unless
    `overrides` (any other keyword of the root) says otherwise."""
    adapters = {
        "auth": FakeAuth(),
        "bookings": FakeBookingSource([]),
        "warm": lambda_image.Warm(),
        "guard_store": MemoryRecords(),
        "sent_messages": FakeSentMessages(FakeClock(time.time())),
        **overrides,
    }
    return lambda_image.scheduled_run(
        settings or unit_settings(),
        requested_dry_run=dry_run,
        request_id="unit",
        transport=transport,
        sent_log=sent_log,
        rules=rules,
        **adapters,
    )
