"""The Naver login guard from settings: one construction for the Lambda and `make login-guard`, so both
read and write the same record of the sent-log table."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable

from naver_sms.adapters.dynamo_sent_log import DynamoRecords
from naver_sms.adapters.login_guard_store import StoreLoginGuard
from naver_sms.adapters.sent_log import RecordStore
from naver_sms.bootstrap.shared import given
from naver_sms.settings import Settings, SettingsError


def naver_identity(settings: Settings) -> str:
    """Whose logins they are: the login page (host lowercased, a port other than http's or https's, and
    path; no scheme, query or trailing slash: two local stand-ins on two ports are two sites) and the
    account as Naver knows it: the username RESOLVED (a `secretsmanager:…#username` reference in the
    Lambda and the literal ID an operator types give one identity), NFKC-normalised, casefolded and
    stripped. Never the password; the guard stores only a hash of this.

    Revealing the username here is what the Lambda does anyway for its login; `make login-guard` needs
    the same access to the secret."""
    naver = settings.naver
    if not naver.username.is_set:
        raise SettingsError(
            "naver.username is empty: set NAVER_USERNAME (the login guard keeps one record per account)"
        )
    url = naver.login_url
    port = "" if url.port in (80, 443) else f":{url.port}"
    page = f"{(url.host or '').lower()}{port}{(url.path or '').rstrip('/')}"
    account = unicodedata.normalize("NFKC", naver.username.reveal()).casefold().strip()
    return f"{page} {account}"


def login_guard(
    settings: Settings, *, store: RecordStore | None = None, clock: Callable[[], float] = time.time
) -> StoreLoginGuard:
    """The guard's record in the sent-log table, or in the store a caller (a unit test) passed."""
    naver = settings.naver
    return StoreLoginGuard(
        given(store, lambda: DynamoRecords(settings.sent_log.table)),
        naver_identity(settings),
        max_per_hour=naver.max_logins_per_hour,
        first_backoff=naver.login_backoff_seconds,
        longest_backoff=naver.login_backoff_max_seconds,
        clock=clock,
    )
