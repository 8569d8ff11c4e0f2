"""The typed, immutable shape of the settings. Defaults live in config/settings.yaml, not here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from naver_sms.application.send_policy import SendPolicy
from naver_sms.settings.secrets import Secret, configure_secret_cache


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class AppSettings(_Section):
    env: str = Field(min_length=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    rules_file: str
    # How long a resolved secretsmanager:/ssm: reference is reused before it is read again (0: every
    # reveal reads it), so a rotated secret is picked up in a warm process.
    secret_ttl_seconds: float = Field(ge=0, le=24 * 3600)

    @model_validator(mode="after")
    def _apply_secret_ttl(self) -> AppSettings:
        # The secret cache is the process's, as the settings are: the settings last loaded set its TTL
        # (every entry point loads them first), so no composition root can forget to.
        configure_secret_cache(ttl_seconds=self.secret_ttl_seconds)
        return self


class Selectors(_Section):
    username: str
    password: str
    submit: str
    logged_in: str
    error: str


class NaverSettings(_Section):
    login_url: HttpUrl
    bookings_url: HttpUrl
    username: Secret
    password: Secret
    selectors: Selectors
    login_timeout_seconds: float = Field(gt=0)
    page_size: int = Field(gt=0, le=500)
    session_max_age_seconds: float = Field(ge=0, le=7 * 24 * 3600)
    # The login guard (application/login_guard.py): the shop's account is what repeated logins risk.
    max_logins_per_hour: int = Field(ge=1, le=20)
    login_backoff_seconds: float = Field(gt=0, le=24 * 3600)
    login_backoff_max_seconds: float = Field(gt=0, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _backoff_grows(self) -> NaverSettings:
        if self.login_backoff_max_seconds < self.login_backoff_seconds:
            raise ValueError(
                f"naver.login_backoff_max_seconds ({self.login_backoff_max_seconds:g}) is below "
                f"naver.login_backoff_seconds ({self.login_backoff_seconds:g}): raise "
                "NAVER_LOGIN_BACKOFF_MAX_SECONDS or lower NAVER_LOGIN_BACKOFF_SECONDS"
            )
        return self


class BrowserSettings(_Section):
    chrome_bin: str
    chromedriver_bin: str
    page_load_timeout_seconds: float = Field(gt=0)


class SmsSettings(_Section):
    dry_run: bool | None
    endpoint: HttpUrl
    access_key: Secret
    secret_key: Secret
    service_id: str
    sender: str
    timeout_seconds: float = Field(gt=0)
    max_attempts: int = Field(ge=1, le=10)
    # The volume breaker: a scheduled run that would make more real sends than this sends none.
    max_per_run: int = Field(ge=1, le=100_000)


class SentLogSettings(_Section):
    table: str = Field(min_length=3)
    # A claim nobody confirmed for this long belongs to a sender that stopped mid-send: it is then
    # reported as unknown (never resent). Must exceed the longest one send can take.
    claim_lease_seconds: float = Field(gt=0)


class ReconcileSettingsModel(_Section):
    """What SENS's own record of a send is asked, and when (application/reconcile.py)."""

    # After a window's end, before SENS's list of it is taken as whole (SENS may list a request late).
    settle_seconds: float = Field(ge=0, le=7 * 86_400)
    # Either side of a claim's window: our clock against SENS's.
    margin_seconds: float = Field(ge=0, le=3_600)
    # After a confirmed send, before its handset result is asked; after the second, no longer waited for.
    handset_delay_seconds: float = Field(ge=0, le=86_400)
    handset_give_up_seconds: float = Field(gt=0, le=30 * 86_400)
    # A send SENS never accepted is released for the next run to send, while its rule's window stays
    # open at least resend_lead_seconds; off, a person decides (it stays unknown, noted).
    resend_not_found: bool
    resend_lead_seconds: float = Field(ge=0, le=86_400)
    # A pass takes no new record after this long (the Lambda's is shortened to its time left).
    budget_seconds: float = Field(gt=0, le=3_600)
    # The worker's timer: a pass this often.
    interval_seconds: float = Field(ge=10, le=86_400)


class AlertSettings(_Section):
    slack_webhook_url: Secret


class HttpSettings(_Section):
    timeout_seconds: float = Field(gt=0)
    max_attempts: int = Field(ge=1, le=10)


class Retention(_Section):
    max_age_days: float = Field(gt=0, le=3650)
    max_mb: int = Field(ge=1, le=1024 * 1024)


class WorkerRetention(_Section):
    events: Retention
    dead_letters: Retention
    notifications: Retention
    sent_log: Retention


# One server, or a cluster's servers separated by commas: nats://a:4222,nats://b:4222
NATS_URLS = r"(nats|tls|ws|wss)://[^,\s]+(,(nats|tls|ws|wss)://[^,\s]+)*"


class NatsCredentials(_Section):
    """One kind of NATS credentials, at most (bootstrap.shared.nats_credentials checks which)."""

    nats_user: str
    nats_password: Secret
    nats_token: Secret
    nats_nkey_seed: Secret
    nats_creds_file: str  # a path; the file holds the user JWT and its NKey seed


class EventsSettings(NatsCredentials):
    """The Lambda's change feed: `mode` send (the Lambda sends the events rules' messages itself),
    publish (to the worker's `stream` on `subject`, at nats_url), off (no feed: the events rules are
    another publisher's and the worker's); empty, publish when nats_url is set, else send."""

    mode: Literal["", "send", "publish", "off"]
    nats_url: str = Field(pattern=f"^({NATS_URLS})?$")
    subject: str = Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    stream: str = Field(pattern=r"^[A-Za-z0-9_-]+$")  # the one that must take them: the worker's
    # Both within the run's reserve for its last send (sms timeout x attempts): a publish that starts
    # while the deadline allows a send ends before the run must.
    connect_seconds: float = Field(gt=0, le=10)
    publish_timeout_seconds: float = Field(gt=0, le=10)

    @property
    def effective_mode(self) -> Literal["send", "publish", "off"]:
        if self.mode:
            return self.mode
        return "publish" if self.nats_url else "send"

    @model_validator(mode="after")
    def _publish_needs_a_server(self) -> EventsSettings:
        if self.mode == "publish" and not self.nats_url:
            raise ValueError("events.mode is publish but events.nats_url is empty: set EVENTS_NATS_URL")
        if self.mode in ("send", "off") and self.nats_url:
            raise ValueError(
                f"events.mode is {self.mode} but events.nats_url is set: the events would go nowhere "
                "near it; empty EVENTS_NATS_URL or set EVENTS_MODE=publish"
            )
        return self


class WorkerSettings(NatsCredentials):
    nats_url: str = Field(pattern=f"^{NATS_URLS}$")
    replicas: int = Field(ge=1, le=5)
    stream: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    subject: str
    durable: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    dlq_subject: str
    dlq_stream: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    sent_subject: str
    failed_subject: str
    notifications_stream: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    dedupe_bucket: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    health_port: int = Field(ge=0, le=65535)
    concurrency: int = Field(ge=1, le=1024)
    # The worker's ceiling on real sends: events past it wait, never dropped.
    max_sends_per_minute: int = Field(ge=1, le=100_000)
    # Docker gives 10 s between SIGTERM and SIGKILL; the drain must end well inside that.
    drain_seconds: float = Field(gt=0, lt=10)
    ack_wait_seconds: float = Field(gt=0)
    nak_delay_seconds: float = Field(ge=0)
    # Applies when the consumer is created; the worker reads the live consumer's value at start.
    max_deliver: int = Field(ge=2, le=1000)
    max_event_bytes: int = Field(ge=1024, le=8 * 1024 * 1024)
    retention: WorkerRetention
    connect_seconds: float = Field(gt=0, le=600)


class SettingsModel(_Section):
    """Validated across sections: one SMS, retries included, must finish inside JetStream's ack wait,
    or the event is redelivered while its send is still running."""

    app: AppSettings
    naver: NaverSettings
    browser: BrowserSettings
    sms: SmsSettings
    sent_log: SentLogSettings
    reconcile: ReconcileSettingsModel
    alerts: AlertSettings
    http: HttpSettings
    events: EventsSettings
    worker: WorkerSettings

    @model_validator(mode="after")
    def _send_fits_in_ack_wait_and_lease(self) -> SettingsModel:
        worst = SendPolicy(self.sms.timeout_seconds, self.sms.max_attempts).worst_case_seconds()
        for limit, key, env in (
            (self.worker.ack_wait_seconds, "worker.ack_wait_seconds", "ACK_WAIT_SECONDS"),
            (self.sent_log.claim_lease_seconds, "sent_log.claim_lease_seconds", "CLAIM_LEASE_SECONDS"),
        ):
            if worst >= limit:
                raise ValueError(
                    f"sms.timeout_seconds x sms.max_attempts plus waits is {worst:g} s, not under "
                    f"{key} ({limit:g} s): lower the first two or raise {env}"
                )
        reconcile = self.reconcile
        if reconcile.handset_give_up_seconds <= reconcile.handset_delay_seconds:
            raise ValueError(
                f"reconcile.handset_give_up_seconds ({reconcile.handset_give_up_seconds:g} s) must be "
                f"longer than reconcile.handset_delay_seconds ({reconcile.handset_delay_seconds:g} s)"
            )
        return self
