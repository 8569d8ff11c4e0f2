"""The handler in-process with real parts: Chromium logging in to the fake Naver, the fake SENS
checking signatures, moto's DynamoDB as the sent log, a recorder as the Slack webhook."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

import main
import naver_sms
from tests.support.bookings import DRY_RUN_RESULT, mixed_bookings
from tests.support.fake_naver import FakeNaver
from tests.support.fake_sens import FakeSens
from tests.support.moto import create_sent_log_table
from tests.support.recorder import Recorder

RUN = {"action": "run"}


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    browser_env: dict[str, str],
    aws: str,
    fake_naver: FakeNaver,
    fake_sens: FakeSens,
) -> Iterator[tuple[FakeNaver, FakeSens]]:
    create_sent_log_table()
    fake_naver.state.bookings = mixed_bookings()
    for name, value in {**fake_naver.env(), **fake_sens.env()}.items():
        monkeypatch.setenv(name, value)
    yield fake_naver, fake_sens


def sent_log_items() -> list[dict[str, object]]:
    return list(boto3.client("dynamodb").scan(TableName="naver-sms-sent")["Items"])


def test_dry_run_is_the_default_and_sends_nothing(world: tuple[FakeNaver, FakeSens]) -> None:
    naver, sens = world
    result = main.lambda_handler(RUN, None)
    assert result == DRY_RUN_RESULT
    assert naver.state.logins == 1
    assert naver.state.api_calls == 3  # page size 2: three pages
    assert sens.state.sent == [] and sent_log_items() == []


def test_real_run_sends_each_message_once_across_reruns(world: tuple[FakeNaver, FakeSens]) -> None:
    _, sens = world
    first = main.lambda_handler({"action": "run", "dry_run": False}, None)
    assert first == {
        "status": "ok",
        "bookings": 5,
        "planned": 5,
        "sent": 5,
        "skipped_duplicates": 0,
        "dry_run": False,
    }
    assert sens.state.rejected_signatures == 0
    assert sorted(m["messages"][0]["to"] for m in sens.state.sent) == [
        "01055550001",
        "01055550001",
        "01055550002",
        "01055550003",
        "01055550004",
    ]
    assert all(item["state"]["S"] == "sent" for item in sent_log_items())
    again = main.lambda_handler({"action": "run", "dry_run": False}, None)
    assert (again["sent"], again["skipped_duplicates"]) == (0, 5)
    dry = main.lambda_handler(RUN, None)
    assert (dry["sent"], dry["skipped_duplicates"], dry["dry_run"]) == (0, 5, True)
    assert len(sens.state.sent) == 5


def test_partial_run_never_double_sends_on_rerun(world: tuple[FakeNaver, FakeSens]) -> None:
    _, sens = world

    # Let two messages through, then the SMS API fails every retry of the third.
    class FailAfterTwo(list):  # type: ignore[type-arg]
        def append(self, item: object) -> None:
            super().append(item)
            if len(self) == 2:
                sens.state.fail_next = 1000

    sens.state.sent = FailAfterTwo()
    failed = main.lambda_handler({"action": "run", "dry_run": False}, None)
    assert failed["status"] == "error"
    assert failed["error"]["type"] == "DeliveryError"
    assert "SENS failed after 3 attempts: HTTP 503" in failed["error"]["message"]
    assert len(sens.state.sent) == 2
    assert len(sent_log_items()) == 2  # the failed one released its claim
    sens.state.fail_next = 0
    rerun = main.lambda_handler({"action": "run", "dry_run": False}, None)
    assert (rerun["sent"], rerun["skipped_duplicates"]) == (3, 2)
    assert set(sens.state.per_recipient().values()) == {1}
    assert len(sens.state.sent) == 5


def test_refused_sms_is_an_error_not_a_retry(world: tuple[FakeNaver, FakeSens]) -> None:
    _, sens = world
    sens.state.fail_next, sens.state.fail_status = 1, 400
    result = main.lambda_handler({"action": "run", "dry_run": False}, None)
    assert result["error"]["type"] == "DeliveryError"
    assert "SENS refused the message: HTTP 400" in result["error"]["message"]


def test_booking_api_retries_5xx(world: tuple[FakeNaver, FakeSens]) -> None:
    naver, _ = world
    naver.state.fail_next = 2
    assert main.lambda_handler(RUN, None)["status"] == "ok"
    assert naver.state.api_calls == 5


def test_naver_down_is_reported_and_alerted(
    world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch
) -> None:
    naver, sens = world
    naver.state.fail_next = 1000
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        result = main.lambda_handler({"action": "run", "dry_run": False}, None)
    assert result["error"]["type"] == "BookingSourceError"
    assert "HTTP 503" in result["error"]["message"] or "RetryError" in result["error"]["message"]
    assert len(slack.posts) == 1 and "BookingSourceError" in slack.posts[0]["text"]
    assert sens.state.sent == []


def test_login_rejected(world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAVER_PASSWORD", "wrong")
    result = main.lambda_handler(RUN, None)
    assert result["error"]["type"] == "LoginFailed"
    assert "Wrong ID or password" in result["error"]["message"]


def test_sent_log_unavailable(world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch) -> None:
    _, sens = world
    monkeypatch.setenv("SENT_LOG_TABLE", "no-such-table")
    result = main.lambda_handler({"action": "run", "dry_run": False}, None)
    assert result["error"]["type"] == "SentLogError"
    assert "ResourceNotFoundException" in result["error"]["message"]
    assert sens.state.sent == []


def test_missing_sms_credentials_fail_before_login(
    world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch
) -> None:
    naver, _ = world
    monkeypatch.delenv("SENS_SECRET_KEY")
    result = main.lambda_handler({"action": "run", "dry_run": False}, None)
    assert result["error"]["type"] == "SettingsError"
    assert result["error"]["message"].startswith("sms.secret_key is required but empty (")
    assert "set SENS_SECRET_KEY to a value or a secretsmanager:/ssm: reference" in result["error"]["message"]
    assert naver.state.logins == 0


def test_bad_settings_are_a_structured_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "lots")
    result = main.lambda_handler(RUN, None)
    assert result["status"] == "error" and result["error"]["type"] == "SettingsError"
    assert "worker.concurrency (environment variable WORKER_CONCURRENCY)" in result["error"]["message"]


def test_smoke_ok(browser_env: dict[str, str]) -> None:
    result = main.lambda_handler({"smoke": True}, None)
    assert result["status"] == "ok"
    assert result["checks"] == {"settings": "ok", "secrets": "skipped", "browser": "ok"}
    assert result["version"] == naver_sms.__version__


def test_smoke_names_the_failing_check(monkeypatch: pytest.MonkeyPatch, aws: str) -> None:
    monkeypatch.setenv("CHROME_BIN", "/nonexistent/chrome")
    monkeypatch.setenv("NAVER_PASSWORD", "secretsmanager:absent")
    result = main.lambda_handler({"smoke": True}, None)
    assert result["status"] == "error"
    assert result["checks"]["settings"] == "ok"
    assert "ResourceNotFoundException" in result["checks"]["secrets"]
    assert "CHROME_BIN: '/nonexistent/chrome' is not an executable file" in result["checks"]["browser"]
