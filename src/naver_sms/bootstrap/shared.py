"""What both images build the same way: the SMS transport and the deliverer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.application.delivery import Deliverer, every_line
from naver_sms.application.dry_run import RefusingTransport
from naver_sms.application.errors import NotDelivered
from naver_sms.application.ports import SentLog, SmsTransport
from naver_sms.application.send_policy import SendPolicy
from naver_sms.settings import Settings, SettingsError, refresh_secrets

OPERATOR = "operator"  # who `make claims` reads as: it writes nothing, yet a sent log names its writer
T = TypeVar("T")


def given(override: T | None, real: Callable[[], T]) -> T:
    """The adapter a caller (a unit test) passed to a root, or else the real one, built only then."""
    return real() if override is None else override


def sms_transport(
    settings: Settings, *, dry_run: bool, concurrency: int, override: SmsTransport | None = None
) -> SmsTransport:
    """SENS, one pooled connection per send that may be in flight, or the transport a caller passed.
    A dry run refuses to send whatever was passed: an override replaces SENS, never the dry run."""
    if dry_run:
        return RefusingTransport()
    return given(override, lambda: _sens(settings, concurrency))


def _sens(settings: Settings, concurrency: int) -> SmsTransport:
    """Credentials are revealed here, so a dry run never needs them and a missing or unreadable key
    stops the image before it starts."""
    sms = settings.sms
    service_id = sms.service_id or _missing("sms.service_id", "SENS_SERVICE_ID")
    sender = sms.sender or _missing("sms.sender", "SENS_SENDER")

    def revealed() -> SensCredentials:
        return SensCredentials(
            access_key=sms.access_key.reveal(),
            secret_key=sms.secret_key.reveal(),
            service_id=service_id,
            sender=sender,
        )

    def credentials() -> SensCredentials:
        # Before each attempt: the secret cache's value (read again after its TTL or a refresh), so a
        # rotated key signs the next try without a new transport. A failed read sends nothing.
        try:
            return revealed()
        except SettingsError as err:
            raise NotDelivered(f"SENS's keys cannot be read: {err}") from err

    revealed()
    policy = SendPolicy(timeout=sms.timeout_seconds, max_attempts=sms.max_attempts)
    # Keys SENS refuses (401, 403) may have been rotated since they were read: the refusal is known not
    # sent (the claim is released and the event or run tries again later), and the next reveal reads
    # them again.
    return SensTransport(
        str(sms.endpoint), credentials, policy, pool_size=concurrency, credentials_refused=refresh_secrets
    )


def deliverer(
    settings: Settings,
    transport: SmsTransport,
    sent_log: SentLog,
    *,
    dry_run: bool,
    concurrency: int,
    dry_run_line: Callable[[], bool] = every_line,
    clock: Callable[[], float] = time.time,
) -> Deliverer:
    return Deliverer(
        transport=transport,
        sent_log=sent_log,
        lease_seconds=settings.sent_log.claim_lease_seconds,
        dry_run=dry_run,
        send_slots=asyncio.Semaphore(concurrency),
        dry_run_line=dry_run_line,
        clock=clock,
    )


def _missing(key: str, env: str) -> str:
    raise SettingsError(f"{key} is required to send SMS: set {env} or {key} in config/settings.yaml")
