"""The Naver login guard from settings: one construction for the Lambda and `make login-guard`, so both
read and write the same record of the sent-log table."""

from __future__ import annotations

from naver_sms.adapters.dynamo_sent_log import DynamoRecords
from naver_sms.adapters.login_guard_store import StoreLoginGuard
from naver_sms.settings import Settings, SettingsError


def naver_identity(settings: Settings) -> str:
    """Whose logins they are: the login page and the account (as configured: a secret reference stays a
    reference). Never the password; the guard stores only a hash of it."""
    if not settings.naver.username.is_set:
        raise SettingsError(
            "naver.username is empty: set NAVER_USERNAME (the login guard keeps one record per account)"
        )
    return f"{settings.naver.login_url} {settings.naver.username.raw}"


def login_guard(settings: Settings) -> StoreLoginGuard:
    naver = settings.naver
    return StoreLoginGuard(
        DynamoRecords(settings.sent_log.table),
        naver_identity(settings),
        max_per_hour=naver.max_logins_per_hour,
        first_backoff=naver.login_backoff_seconds,
        longest_backoff=naver.login_backoff_max_seconds,
    )
