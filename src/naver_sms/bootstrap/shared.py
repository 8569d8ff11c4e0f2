"""What both images build the same way: the SMS transport and the deliverer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.application.delivery import Deliverer, every_line
from naver_sms.application.dry_run import RefusingTransport
from naver_sms.application.ports import SentLog, SmsTransport
from naver_sms.application.send_policy import SendPolicy
from naver_sms.settings import Settings, SettingsError, refresh_secrets


def sms_transport(settings: Settings, *, dry_run: bool, concurrency: int) -> SmsTransport:
    """SENS, one pooled connection per send that may be in flight. Credentials are revealed here, so a
    dry run never needs them."""
    if dry_run:
        return RefusingTransport()
    sms = settings.sms
    credentials = SensCredentials(
        access_key=sms.access_key.reveal(),
        secret_key=sms.secret_key.reveal(),
        service_id=sms.service_id or _missing("sms.service_id", "SENS_SERVICE_ID"),
        sender=sms.sender or _missing("sms.sender", "SENS_SENDER"),
    )
    policy = SendPolicy(timeout=sms.timeout_seconds, max_attempts=sms.max_attempts)
    # Keys SENS refuses may have been rotated since they were read: the next reveal reads them again
    # (the Lambda's next run builds its transport anew; a worker needs a restart to use them).
    return SensTransport(
        str(sms.endpoint), credentials, policy, pool_size=concurrency, credentials_refused=refresh_secrets
    )


def deliverer(
    settings: Settings,
    transport: SmsTransport,
    sent_log: SentLog,
    *,
    owner: str,
    dry_run: bool,
    concurrency: int,
    dry_run_line: Callable[[], bool] = every_line,
) -> Deliverer:
    return Deliverer(
        transport=transport,
        sent_log=sent_log,
        owner=owner,
        lease_seconds=settings.sent_log.claim_lease_seconds,
        dry_run=dry_run,
        send_slots=asyncio.Semaphore(concurrency),
        dry_run_line=dry_run_line,
    )


def _missing(key: str, env: str) -> str:
    raise SettingsError(f"{key} is required to send SMS: set {env} or {key} in config/settings.yaml")
