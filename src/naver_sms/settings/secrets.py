"""Secret values and references, resolved lazily from Secrets Manager or SSM, cached per process.

boto3 is imported only when a reference is first resolved, so settings stay cheap to load.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from naver_sms.settings.env import REGION_ENVS, env_name_for
from naver_sms.settings.errors import SecretUnavailable, SettingsError

_SECRETS_MANAGER = "secretsmanager:"
_SSM = "ssm:"


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
            return _resolve(self.raw)
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


@lru_cache(maxsize=128)
def _resolve(reference: str) -> str:
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
    """Forget resolved values and clients (tests, and credentials rotated in a warm runtime)."""
    _resolve.cache_clear()
    _client_factory.cache_clear()
