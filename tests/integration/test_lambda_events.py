from __future__ import annotations

import pytest

from naver_sms.domain.errors import InvalidEvent
from naver_sms.entrypoints.lambda_events import (
    MAX_EVENT_BYTES,
    RunRequest,
    SmokeRequest,
    parse_event,
)

SCHEDULED = {
    "version": "0",
    "id": "x",
    "source": "aws.events",
    "detail-type": "Scheduled Event",
    "account": "123",
    "time": "2026-11-24T00:00:00Z",
    "region": "ap-northeast-2",
    "resources": ["arn:aws:events:ap-northeast-2:123:rule/every-10-min"],
    "detail": {},
}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"smoke": True}, SmokeRequest()),
        ({"action": "run"}, RunRequest(dry_run=None)),
        ({"action": "run", "dry_run": False}, RunRequest(dry_run=False)),
        (SCHEDULED, RunRequest(dry_run=None)),
        ({**SCHEDULED, "detail": {"dry_run": True}}, RunRequest(dry_run=True)),
    ],
)
def test_accepted_events(event: object, expected: object) -> None:
    assert parse_event(event) == expected


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "got NoneType"),
        ("run", "got str"),
        ({"smoke": "yes"}, "exactly"),
        ({"smoke": True, "action": "run"}, "exactly"),
        ({"action": "stop"}, "unknown action 'stop'"),
        ({"action": "run", "dry_run": 0}, "dry_run must be true or false"),
        ({**SCHEDULED, "detail": []}, "detail must be an object"),
        ({"hello": "world"}, "unrecognised event"),
        ({"action": "run", "pad": "x" * MAX_EVENT_BYTES}, f"the limit is {MAX_EVENT_BYTES}"),
    ],
)
def test_rejected_events(event: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_event(event)
