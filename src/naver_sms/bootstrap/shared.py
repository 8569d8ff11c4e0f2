"""What both images build the same way: the SMS transport, the deliverer, and the reconciler's reading
of SENS and its settings."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.adapters.sens_messages import SensMessages
from naver_sms.adapters.sent_log import ScanOpenClaims, StoreSentLog
from naver_sms.application.delivery import Deliverer, every_line
from naver_sms.application.dry_run import RefusingTransport
from naver_sms.application.errors import NotDelivered, SentMessagesError
from naver_sms.application.ports import OpenClaims, SentLog, SentMessages, SmsTransport
from naver_sms.application.reconcile import Reconciler, ReconcileSettings
from naver_sms.application.send_policy import SendPolicy
from naver_sms.settings import Settings, SettingsError, refresh_secrets
from naver_sms.settings.env import env_name_for
from naver_sms.settings.model import NatsCredentials

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
    credentials = _credentials(settings, NotDelivered)
    policy = SendPolicy(timeout=sms.timeout_seconds, max_attempts=sms.max_attempts)
    # Keys SENS refuses (401, 403) may have been rotated since they were read: the refusal is known not
    # sent (the claim is released and the event or run tries again later), and the next reveal reads
    # them again.
    return SensTransport(
        str(sms.endpoint), credentials, policy, pool_size=concurrency, credentials_refused=refresh_secrets
    )


def sent_messages(settings: Settings, *, now: Callable[[], float] = time.time) -> SentMessages:
    """SENS's record of what it accepted, read with the send's keys (checked now, as the transport's)."""
    sms = settings.sms
    return SensMessages(
        str(sms.endpoint),
        _credentials(settings, SentMessagesError),
        timeout=sms.timeout_seconds,
        credentials_refused=refresh_secrets,
        now=now,
    )


def reconcile_settings(settings: Settings, *, budget_seconds: float | None = None) -> ReconcileSettings:
    """The reconciler's settings; `budget_seconds` shortens the pass (a Lambda with little time left)."""
    r = settings.reconcile
    return ReconcileSettings(
        lease_seconds=settings.sent_log.claim_lease_seconds,
        settle_seconds=r.settle_seconds,
        margin_seconds=r.margin_seconds,
        handset_delay_seconds=r.handset_delay_seconds,
        handset_give_up_seconds=r.handset_give_up_seconds,
        resend_not_found=r.resend_not_found,
        resend_lead_seconds=r.resend_lead_seconds,
        budget_seconds=r.budget_seconds if budget_seconds is None else min(budget_seconds, r.budget_seconds),
    )


def operators_reconciler(
    settings: Settings, sent_log: StoreSentLog, open_claims: OpenClaims | None = None
) -> Reconciler:
    """`make reconcile`'s pass over an operator's sent log: the records `open_claims` lists (DynamoDB's
    index), or else a scan of the sent log's own store (JetStream KV has no index)."""
    return Reconciler(
        messages=sent_messages(settings),
        sent_log=sent_log,
        open_claims=ScanOpenClaims(sent_log.store) if open_claims is None else open_claims,
        settings=reconcile_settings(settings),
    )


def _credentials(settings: Settings, unreadable: Callable[[str], Exception]) -> Callable[[], SensCredentials]:
    """SENS's keys as a call made before each request: the secret cache's value (read again after its
    TTL or a refresh), so a rotated key signs the next request without a new client; a failed read
    raises `unreadable` and nothing is asked of SENS. Read once here, so a missing key stops the image
    before it starts."""
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
        try:
            return revealed()
        except SettingsError as err:
            raise unreadable(f"SENS's keys cannot be read: {err}") from err

    revealed()
    return credentials


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


def nats_servers(urls: str, credentials: dict[str, str]) -> dict[str, Any]:
    """nats.connect's servers and credentials: a comma-separated URL is a cluster's seed list."""
    return {"servers": urls.split(","), **credentials}


def nats_credentials(c: NatsCredentials, section: str) -> dict[str, str]:
    """nats.connect's keyword arguments for the one kind of credentials configured in settings section
    `section` (the worker's, the change feed's), revealed only here."""
    kind = nats_credential_kind(c, section)
    if kind == "token":
        return {"token": c.nats_token.reveal()}
    if kind == "nkey":
        return {"nkeys_seed_str": c.nats_nkey_seed.reveal()}
    if kind == "creds":
        return {"user_credentials": c.nats_creds_file}
    if kind == "user":
        return {"user": c.nats_user, "password": c.nats_password.reveal()}
    return {}


def nats_credential_kind(c: NatsCredentials, section: str) -> str | None:
    """Which kind of credentials is configured (token, nkey, creds, user; None: none), checked without
    revealing any: one kind at most, a creds file that is a file, a password with its user."""

    def env(field: str) -> str:
        return env_name_for(f"{section}.{field}") or f"{section}.{field}"

    kinds = {
        f"user/password ({env('nats_user')}, {env('nats_password')})": bool(
            c.nats_user or c.nats_password.is_set
        ),
        f"token ({env('nats_token')})": c.nats_token.is_set,
        f"NKey seed ({env('nats_nkey_seed')})": c.nats_nkey_seed.is_set,
        f"creds file ({env('nats_creds_file')})": bool(c.nats_creds_file),
    }
    chosen = [kind for kind, present in kinds.items() if present]
    if len(chosen) > 1:
        raise SettingsError(f"NATS credentials: set one kind, not several: {', '.join(chosen)}")
    if c.nats_token.is_set:
        return "token"
    if c.nats_nkey_seed.is_set:
        return "nkey"
    if c.nats_creds_file:
        if not os.path.isfile(c.nats_creds_file):
            raise SettingsError(f"{section}.nats_creds_file: {c.nats_creds_file!r} is not a readable file")
        return "creds"
    if c.nats_user or c.nats_password.is_set:
        if not c.nats_user:
            raise SettingsError(
                f"{section}.nats_password is set but {section}.nats_user is empty: set {env('nats_user')}"
            )
        return "user"
    return None
