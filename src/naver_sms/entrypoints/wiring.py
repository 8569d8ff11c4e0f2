"""Adapters both entry points build from settings: the SMS transport and the alerter."""

from __future__ import annotations

from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.adapters.slack import LogOnlyAlerter, SlackAlerter
from naver_sms.application.ports import Alerter, SmsTransport
from naver_sms.domain.messages import PlannedMessage
from naver_sms.settings import Settings


class RefusingTransport:
    """Dry runs never reach the transport (deliver stops first); if one did, it fails loudly
    instead of sending."""

    def send(self, message: PlannedMessage) -> str:
        raise AssertionError(f"a dry run tried to send {message.idempotency_key}")


def sms_transport(settings: Settings, *, dry_run: bool) -> SmsTransport:
    return RefusingTransport() if dry_run else sens_transport(settings)


def sens_transport(settings: Settings) -> SensTransport:
    """Credentials are revealed here, so a dry run never needs them."""
    sms = settings.model.sms
    credentials = SensCredentials(
        access_key=sms.access_key.reveal(),
        secret_key=sms.secret_key.reveal(),
        service_id=sms.service_id or _missing("sms.service_id", "SENS_SERVICE_ID"),
        sender=sms.sender or _missing("sms.sender", "SENS_SENDER"),
    )
    return SensTransport(
        str(sms.endpoint), credentials, timeout=sms.timeout_seconds, max_attempts=sms.max_attempts
    )


def alerter(settings: Settings) -> Alerter:
    webhook = settings.model.alerts.slack_webhook_url
    return SlackAlerter(webhook.reveal()) if webhook.is_set else LogOnlyAlerter()


def _missing(key: str, env: str) -> str:
    from naver_sms.settings import SettingsError  # noqa: PLC0415

    raise SettingsError(f"{key} is required to send SMS: set {env} or {key} in config/settings.yaml")
