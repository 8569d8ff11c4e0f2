"""What the Lambda accepts: a smoke check, a scheduled run, or an explicit run. Nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass

from naver_sms.domain.errors import InvalidEvent

MAX_EVENT_BYTES = 64 * 1024
_RUN_KEYS = frozenset({"action", "dry_run", "allow_sends"})
MAX_ALLOW_SENDS = 100_000


@dataclass(frozen=True)
class SmokeRequest:
    pass


@dataclass(frozen=True)
class RunRequest:
    dry_run: bool | None  # None: the settings decide
    # A person's go-ahead for one run over the volume breaker, naming how many sends they looked at.
    allow_sends: int | None = None


def parse_event(event: object) -> SmokeRequest | RunRequest:
    if not isinstance(event, dict):
        raise InvalidEvent(f"event must be a JSON object, got {type(event).__name__}")
    size = len(json.dumps(event, default=str).encode())
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event is {size} bytes; the limit is {MAX_EVENT_BYTES}")
    if "smoke" in event:
        if event != {"smoke": True}:
            raise InvalidEvent('a smoke event must be exactly {"smoke": true}')
        return SmokeRequest()
    if event.get("source") == "aws.events":
        if event.get("detail-type") != "Scheduled Event":
            raise InvalidEvent(
                f"unsupported EventBridge detail-type {event.get('detail-type')!r}; "
                "expected 'Scheduled Event'"
            )
        return RunRequest(dry_run=_dry_run(event.get("detail", {})))
    if "action" in event:
        if event["action"] != "run":
            raise InvalidEvent(f"unknown action {event['action']!r}; expected 'run'")
        unknown = set(event) - _RUN_KEYS
        if unknown:
            raise InvalidEvent(
                f"unknown field(s) {sorted(unknown)} in a run event; allowed: {sorted(_RUN_KEYS)}"
            )
        dry_run = _dry_run(event)
        return RunRequest(dry_run=dry_run, allow_sends=_allow_sends(event.get("allow_sends"), dry_run))
    raise InvalidEvent(
        'unrecognised event: expected {"smoke": true}, {"action": "run"} or an EventBridge scheduled event'
    )


def _dry_run(fields: object) -> bool | None:
    if not isinstance(fields, dict):
        raise InvalidEvent(f"detail must be an object, got {type(fields).__name__}")
    value = fields.get("dry_run")
    if value is not None and not isinstance(value, bool):
        raise InvalidEvent(f"dry_run must be true or false, got {value!r}")
    return value


def _allow_sends(value: object, dry_run: bool | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ALLOW_SENDS:
        raise InvalidEvent(
            f"allow_sends must be a whole number from 1 to {MAX_ALLOW_SENDS} (the sends the volume "
            f"breaker held, from its alert or `make preview`), got {value!r}"
        )
    if dry_run:
        raise InvalidEvent(
            "allow_sends lets real sends through the volume breaker; it cannot go with dry_run: true"
        )
    return value
