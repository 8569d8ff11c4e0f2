"""Every environment variable the settings read, and the setting each one overrides.

Keep .env.example in step with this table (a test checks it).
"""

from __future__ import annotations

ENV_TO_KEY: dict[str, str] = {
    "APP_ENV": "app.env",
    "LOG_LEVEL": "app.log_level",
    "RULES_FILE": "app.rules_file",
    "SECRET_TTL_SECONDS": "app.secret_ttl_seconds",
    "NAVER_LOGIN_URL": "naver.login_url",
    "NAVER_BOOKINGS_URL": "naver.bookings_url",
    "NAVER_USERNAME": "naver.username",
    "NAVER_PASSWORD": "naver.password",
    "NAVER_LOGIN_TIMEOUT_SECONDS": "naver.login_timeout_seconds",
    "NAVER_SESSION_MAX_AGE_SECONDS": "naver.session_max_age_seconds",
    "NAVER_MAX_LOGINS_PER_HOUR": "naver.max_logins_per_hour",
    "NAVER_LOGIN_BACKOFF_SECONDS": "naver.login_backoff_seconds",
    "NAVER_LOGIN_BACKOFF_MAX_SECONDS": "naver.login_backoff_max_seconds",
    "CHROME_BIN": "browser.chrome_bin",
    "CHROMEDRIVER_BIN": "browser.chromedriver_bin",
    "SMS_DRY_RUN": "sms.dry_run",
    "SENS_ENDPOINT": "sms.endpoint",
    "SENS_ACCESS_KEY": "sms.access_key",
    "SENS_SECRET_KEY": "sms.secret_key",
    "SENS_SERVICE_ID": "sms.service_id",
    "SENS_SENDER": "sms.sender",
    "SENS_TIMEOUT_SECONDS": "sms.timeout_seconds",
    "SENS_MAX_ATTEMPTS": "sms.max_attempts",
    "SMS_MAX_PER_RUN": "sms.max_per_run",
    "SENT_LOG_TABLE": "sent_log.table",
    "CLAIM_LEASE_SECONDS": "sent_log.claim_lease_seconds",
    "RECONCILE_SETTLE_SECONDS": "reconcile.settle_seconds",
    "RECONCILE_MARGIN_SECONDS": "reconcile.margin_seconds",
    "RECONCILE_HANDSET_DELAY_SECONDS": "reconcile.handset_delay_seconds",
    "RECONCILE_RESEND_NOT_FOUND": "reconcile.resend_not_found",
    "RECONCILE_BUDGET_SECONDS": "reconcile.budget_seconds",
    "RECONCILE_INTERVAL_SECONDS": "reconcile.interval_seconds",
    "SLACK_WEBHOOK_URL": "alerts.slack_webhook_url",
    "EVENTS_MODE": "events.mode",
    "EVENTS_NATS_URL": "events.nats_url",
    "EVENTS_SUBJECT": "events.subject",
    "EVENTS_STREAM": "events.stream",
    "EVENTS_CONNECT_SECONDS": "events.connect_seconds",
    "EVENTS_PUBLISH_TIMEOUT_SECONDS": "events.publish_timeout_seconds",
    "EVENTS_NATS_USER": "events.nats_user",
    "EVENTS_NATS_PASSWORD": "events.nats_password",
    "EVENTS_NATS_TOKEN": "events.nats_token",
    "EVENTS_NATS_NKEY_SEED": "events.nats_nkey_seed",
    "EVENTS_NATS_CREDS_FILE": "events.nats_creds_file",
    "NATS_URL": "worker.nats_url",
    "HEALTH_PORT": "worker.health_port",
    "WORKER_CONCURRENCY": "worker.concurrency",
    "WORKER_MAX_SENDS_PER_MINUTE": "worker.max_sends_per_minute",
    "DRAIN_SECONDS": "worker.drain_seconds",
    "ACK_WAIT_SECONDS": "worker.ack_wait_seconds",
    "NAK_DELAY_SECONDS": "worker.nak_delay_seconds",
    "MAX_DELIVER": "worker.max_deliver",
    "WORKER_MAX_EVENT_BYTES": "worker.max_event_bytes",
    "NATS_CONNECT_SECONDS": "worker.connect_seconds",
    "NATS_REPLICAS": "worker.replicas",
    "NATS_USER": "worker.nats_user",
    "NATS_PASSWORD": "worker.nats_password",
    "NATS_TOKEN": "worker.nats_token",
    "NATS_NKEY_SEED": "worker.nats_nkey_seed",
    "NATS_CREDS_FILE": "worker.nats_creds_file",
}

# Read directly, not layered: where the YAML lives, and the AWS region used for secret references.
CONFIG_DIR_ENV = "APP_CONFIG_DIR"
REGION_ENVS = ("AWS_REGION", "AWS_DEFAULT_REGION")

# Settings whose values may be secret references and are never shown.
SECRET_KEYS = frozenset(
    {
        "naver.username",
        "naver.password",
        "sms.access_key",
        "sms.secret_key",
        "alerts.slack_webhook_url",
        "events.nats_password",
        "events.nats_token",
        "events.nats_nkey_seed",
        "worker.nats_password",
        "worker.nats_token",
        "worker.nats_nkey_seed",
    }
)


def env_name_for(key: str) -> str | None:
    return next((env for env, k in ENV_TO_KEY.items() if k == key), None)
