"""What both images build the same way: the SMS transport, the deliverer and the alerter."""

from __future__ import annotations

from naver_sms.adapters.sens import SendPolicy, SensCredentials, SensTransport
from naver_sms.adapters.slack import LogOnlyAlerter, SlackAlerter
from naver_sms.application.delivery import Deliverer
from naver_sms.application.dry_run import RefusingTransport
from naver_sms.application.ports import Alerter, SentLog, SmsTransport
from naver_sms.settings import Settings, SettingsError
from naver_sms.settings.model import SENS_BACKOFF_SECONDS, SENS_MAX_RETRY_AFTER_SECONDS


def sens_config(settings: Settings) -> tuple[str, SensCredentials, SendPolicy]:
    """Endpoint, credentials and policy for either SENS transport. Credentials are revealed here, so a
    dry run never needs them."""
    sms = settings.sms
    credentials = SensCredentials(
        access_key=sms.access_key.reveal(),
        secret_key=sms.secret_key.reveal(),
        service_id=sms.service_id or _missing("sms.service_id", "SENS_SERVICE_ID"),
        sender=sms.sender or _missing("sms.sender", "SENS_SENDER"),
    )
    policy = SendPolicy(
        timeout=sms.timeout_seconds,
        max_attempts=sms.max_attempts,
        backoff=SENS_BACKOFF_SECONDS,
        max_retry_after=SENS_MAX_RETRY_AFTER_SECONDS,
    )
    return str(sms.endpoint), credentials, policy


def sms_transport(settings: Settings, *, dry_run: bool) -> SmsTransport:
    return RefusingTransport() if dry_run else SensTransport(*sens_config(settings))


def deliverer(
    settings: Settings, transport: SmsTransport, sent_log: SentLog, *, owner: str, dry_run: bool
) -> Deliverer:
    return Deliverer(
        transport=transport,
        sent_log=sent_log,
        owner=owner,
        lease_seconds=settings.sent_log.claim_lease_seconds,
        dry_run=dry_run,
    )


def alerter(settings: Settings) -> Alerter:
    webhook = settings.alerts.slack_webhook_url
    return SlackAlerter(webhook.reveal()) if webhook.is_set else LogOnlyAlerter()


def _missing(key: str, env: str) -> str:
    raise SettingsError(f"{key} is required to send SMS: set {env} or {key} in config/settings.yaml")
