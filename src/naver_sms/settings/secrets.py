"""Secret values and references, resolved lazily from Secrets Manager or SSM, cached per process.

A resolved reference is reused for `app.secret_ttl_seconds` (SECRET_TTL_SECONDS, 15 min; loading the
settings sets it for the process), then read again, so a warm Lambda or a long-lived worker picks up a
rotated secret. `refresh_secrets()` forgets every resolved value at once, for a caller that has just
seen a credential refused. A re-read that fails (AWS unreachable, access denied) fails the reveal: the
value read before is not used in its place, since after a rotation the old value is exactly what gets
a login refused (and each failed Naver login alerts the owner and backs the login guard off).

boto3 is imported only when a reference is first resolved, so settings stay cheap to load.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from naver_sms.settings.env import REGION_ENVS, env_name_for
from naver_sms.settings.errors import SecretUnavailable, SettingsError

_SECRETS_MANAGER = "secretsmanager:"
_SSM = "ssm:"
DEFAULT_TTL_SECONDS = 900.0  # config/settings.yaml's app.secret_ttl_seconds (a test keeps them equal)


def is_reference(raw: str) -> bool:
    return raw.startswith((_SECRETS_MANAGER, _SSM))


@dataclass(frozen=True, repr=False)
class Secret:
    """A secret setting: a literal value or a reference. Its value never appears in a repr."""

    key: str
    source: str
    raw: str = field(default="")

    @property
    def is_set(self) -> bool:
        return bool(self.raw)

    @property
    def is_reference(self) -> bool:
        return is_reference(self.raw)

    def reveal(self) -> str:
        if not self.raw:
            env = env_name_for(self.key)
            raise SettingsError(
                f"{self.key} is required but empty ({self.source}): set {env or self.key}"
                " to a value or a secretsmanager:/ssm: reference"
            )
        if not self.is_reference:
            return self.raw
        try:
            return _CACHE.resolve(self.raw)
        except SecretUnavailable as err:
            raise SecretUnavailable(f"{self.key} ({self.source}): {err}") from err

    def __repr__(self) -> str:
        shown = self.raw if self.is_reference else ("***" if self.raw else "")
        return f"Secret({self.key}={shown!r})"

    __str__ = __repr__


def _region() -> str:
    for name in REGION_ENVS:
        if os.environ.get(name):
            return os.environ[name]
    raise SecretUnavailable(f"no AWS region: set one of {', '.join(REGION_ENVS)}")


@lru_cache(maxsize=1)
def _client_factory() -> Any:
    try:
        import boto3  # noqa: PLC0415  (lazy: only secret references need boto3)
        from botocore.config import Config  # noqa: PLC0415
    except ImportError as err:
        # The worker image carries no boto3: it takes credentials from its environment.
        raise SecretUnavailable(
            "secret references need boto3, which this image does not carry: pass the value itself"
        ) from err

    session = boto3.session.Session()
    config = Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2})
    return lambda service: session.client(service, region_name=_region(), config=config)


@dataclass(frozen=True)
class _Resolved:
    value: str = field(repr=False)
    read_at: float  # the clock's reading just before it was read


class _Cache:
    """Resolved references, each kept for `ttl` seconds of `clock` (monotonic unless a test injects
    one). Two threads revealing one expired reference may both read it: harmless, and no lock is held
    while AWS answers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, _Resolved] = {}
        self.generation = 0  # one more at each refresh: a read begun before one is not kept after it
        self.ttl = DEFAULT_TTL_SECONDS
        self.clock: Callable[[], float] = time.monotonic

    def resolve(self, reference: str) -> str:
        with self.lock:
            known = self.values.get(reference)
            now, ttl, generation = self.clock(), self.ttl, self.generation
        if known is not None and now - known.read_at < ttl:
            return known.value
        try:
            value = _read(reference)
        except SecretUnavailable as err:
            with self.lock:
                self.values.pop(reference, None)
            if known is None:
                raise
            raise SecretUnavailable(
                f"{err} (re-reading it after {ttl:g} s; the value read before is not used: it may be "
                "the one a rotation replaced)"
            ) from err
        with self.lock:
            if self.generation == generation:
                self.values[reference] = _Resolved(value, now)
        return value

    def forget(self) -> None:
        with self.lock:
            self.values.clear()
            self.generation += 1


_CACHE = _Cache()


def refresh_secrets() -> None:
    """Forget every resolved reference now: the next reveal() of each reads it again from AWS, whatever
    its age. For a caller that has just seen a credential refused (a failed Naver login, SENS's 401 or
    403): the secret may have been rotated since it was read. Literal values are not affected; a
    value already revealed and held elsewhere stays as it is (the SENS transport reveals its keys again
    before each attempt, so it needs nothing more)."""
    _CACHE.forget()


def configure_secret_cache(
    *, ttl_seconds: float | None = None, clock: Callable[[], float] | None = None
) -> None:
    """How long a resolved reference is reused (0: read on every reveal), and the clock that measures
    it (a test's; time.monotonic otherwise). Only what is given changes; cached values stay."""
    with _CACHE.lock:
        if ttl_seconds is not None:
            if ttl_seconds < 0:
                raise ValueError(f"a secret TTL cannot be negative: {ttl_seconds!r}")
            _CACHE.ttl = ttl_seconds
        if clock is not None:
            _CACHE.clock = clock


def _read(reference: str) -> str:
    factory = _client_factory()
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        if reference.startswith(_SSM):
            name = reference.removeprefix(_SSM)
            ssm = factory("ssm")
            value: str = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            return value
        name, _, json_key = reference.removeprefix(_SECRETS_MANAGER).partition("#")
        secret = factory("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "ClientError")
        raise SecretUnavailable(f"cannot read {reference!r}: {code}") from err
    except BotoCoreError as err:
        raise SecretUnavailable(f"cannot reach AWS for {reference!r}: {type(err).__name__}") from err
    if not json_key:
        return str(secret)
    try:
        return str(json.loads(secret)[json_key])
    except (ValueError, KeyError, TypeError) as err:
        raise SecretUnavailable(
            f"{reference!r}: the secret is not a JSON object with key {json_key!r}"
        ) from err


def clear_cache() -> None:
    """Back to a fresh process (tests): no resolved values, no clients, the default TTL and clock."""
    refresh_secrets()
    configure_secret_cache(ttl_seconds=DEFAULT_TTL_SECONDS, clock=time.monotonic)
    _client_factory.cache_clear()
