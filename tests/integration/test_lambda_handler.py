"""The handler in-process with real parts: Chromium logging in to the fake Naver, the fake SENS
checking signatures, moto's DynamoDB as the sent log, a recorder as the Slack webhook."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

import main
import naver_sms
from naver_sms.adapters.dynamo_sent_log import dynamo_sent_log
from naver_sms.adapters.sent_log import NOT_CLAIMS
from naver_sms.domain.booking import booking_from_mapping
from naver_sms.domain.messages import PlannedMessage
from naver_sms.settings.rules import load_rules
from tests.support.bookings import BASELINE, DRY_RUN_RESULT, RECONCILED_NOTHING, mixed_bookings, record
from tests.support.fake_naver import FakeNaver
from tests.support.fake_sens import SECRET_KEY, FakeSens
from tests.support.moto import create_sent_log_table
from tests.support.procs import REPO, project_version, script
from tests.support.proctree import browser_processes
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
    """The message claims (the login guard's record and the change feed's share the table)."""
    items = boto3.client("dynamodb").scan(TableName="naver-sms-sent")["Items"]
    return [item for item in items if not str(item["idempotency_key"]["S"]).startswith(NOT_CLAIMS)]


def test_dry_run_is_the_default_and_sends_nothing(world: tuple[FakeNaver, FakeSens]) -> None:
    naver, sens = world
    result = main.lambda_handler(RUN, None)
    assert result == DRY_RUN_RESULT
    assert naver.state.logins == 1
    assert naver.state.api_calls == 4  # page size 2: four pages
    assert sens.state.sent == [] and sent_log_items() == []


@pytest.mark.parametrize("deaths", [1, 2])
def test_a_browser_killed_mid_login_gets_one_fresh_start(
    world: tuple[FakeNaver, FakeSens], deaths: int, capsys: pytest.CaptureFixture[str]
) -> None:
    naver, sens = world
    naver.state.kill_browser_next = deaths
    result = main.lambda_handler(RUN, None)
    assert "browser died during login; trying once more" in capsys.readouterr().out
    if deaths == 1:
        assert result == DRY_RUN_RESULT and naver.state.logins == 1
    else:
        assert result["status"] == "error" and result["error"]["type"] == "BrowserDied"  # a LoginFailed
        assert "browser has closed the connection" in result["error"]["message"]
        assert naver.state.api_calls == 0
    assert naver.state.kill_browser_next == 0 and sens.state.received == 0
    assert browser_processes(os.getsid(0)) == []


REAL = {"action": "run", "dry_run": False}
REMINDED = ["01055550001", "01055550003", "01055550006", "01055550007", "01055550008"]


@pytest.fixture
def real_sends(world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch) -> FakeSens:
    monkeypatch.setenv("SMS_DRY_RUN", "false")
    return world[1]


def recipients(sens: FakeSens) -> list[str]:
    return sorted(m["messages"][0]["to"] for m in sens.state.sent)


def test_real_sends_need_settings_that_allow_them(world: tuple[FakeNaver, FakeSens]) -> None:
    naver, sens = world
    result = main.lambda_handler(REAL, None)
    assert result["error"]["type"] == "RealSendsNotAllowed"
    assert "set SMS_DRY_RUN=false" in result["error"]["message"]
    assert (naver.state.logins, sens.state.sent) == (0, [])


def test_real_run_sends_each_message_once_across_reruns(real_sends: FakeSens) -> None:
    sens = real_sends
    first = main.lambda_handler(REAL, None)
    assert first == {
        **DRY_RUN_RESULT,
        "sent": 5,
        "dry_run": False,
        "reconcile": RECONCILED_NOTHING,
        "feed": {**BASELINE, "recorded": 8},  # the first real run takes the change feed's baseline
    }
    assert sens.state.rejected_signatures == 0
    assert recipients(sens) == REMINDED
    assert all(item["state"]["S"] == "sent" for item in sent_log_items())
    again = main.lambda_handler(REAL, None)
    assert (again["sent"], again["skipped_duplicates"]) == (0, 5)
    dry = main.lambda_handler({"action": "run", "dry_run": True}, None)
    assert (dry["sent"], dry["skipped_duplicates"], dry["dry_run"]) == (0, 5, True)
    assert len(sens.state.sent) == 5


def test_sens_unreachable_mid_run_is_retried_by_the_next_run_without_double_sends(
    real_sends: FakeSens, monkeypatch: pytest.MonkeyPatch
) -> None:
    sens = real_sends
    monkeypatch.setenv("SENS_MAX_ATTEMPTS", "1")

    # Two messages go through, then SENS vanishes (connections refused): the rest are known not sent.
    class VanishAfterTwo(list):  # type: ignore[type-arg]
        def append(self, item: object) -> None:
            super().append(item)
            if len(self) == 2:
                sens.vanish()

    sens.state.sent = VanishAfterTwo()
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        partial = main.lambda_handler(REAL, None)
    assert (partial["status"], partial["sent"]) == ("partial", 2)
    assert {f["outcome"] for f in partial["failed"]} == {"retry"}
    assert len(partial["failed"]) == 3
    assert len(slack.posts) == 1 and "3 message(s) need attention" in slack.posts[0]["text"]
    assert len(sent_log_items()) == 2  # the three not sent released their claims
    with FakeSens() as back:
        back.state.sent = list(sens.state.sent)
        monkeypatch.setenv("SENS_ENDPOINT", back.url)
        rerun = main.lambda_handler(REAL, None)
        assert (rerun["status"], rerun["sent"], rerun["skipped_duplicates"]) == ("ok", 3, 2)
        assert recipients(back) == REMINDED


def test_a_5xx_is_unknown_alerted_and_never_resent(
    real_sends: FakeSens, monkeypatch: pytest.MonkeyPatch
) -> None:
    sens = real_sends
    sens.state.fail_next = 1
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        first = main.lambda_handler(REAL, None)
        assert (first["status"], first["sent"]) == ("partial", 4)
        (unknown,) = first["failed"]
        assert unknown["outcome"] == "unknown" and "HTTP 503" in unknown["reason"]
        assert set(unknown) == {"outcome", "idempotency_key", "rule", "booking_id", "reason"}
        assert "unknown reminder booking" in slack.posts[0]["text"]
        again = main.lambda_handler(REAL, None)
    assert (again["status"], again["sent"], again["unresolved"]) == ("ok", 0, 1)
    assert sens.state.received == 5  # the unknown one was not sent again
    assert len(slack.posts) == 1
    states = sorted(item["state"]["S"] for item in sent_log_items())
    assert states == ["sent", "sent", "sent", "sent", "unknown"]


def emf_records(out: str) -> list[dict[str, object]]:
    """The run's Embedded Metric Format lines: JSON with CloudWatch's `_aws` envelope."""
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]


def test_each_scheduled_run_writes_one_emf_record_an_alarm_can_use(
    real_sends: FakeSens, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "naver-sms-automation")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")  # metrics are written whatever the log level
    real_sends.state.fail_next = 1
    main.lambda_handler(REAL, None)
    (record,) = emf_records(capsys.readouterr().out)
    (directive,) = record["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == "NaverSms" and directive["Dimensions"] == [["FunctionName"]]
    names = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert names["RunDuration"] == "Milliseconds" and names["Unknown"] == "Count"
    assert {name: record[name] for name in ("Sent", "Unknown", "Failed", "RunFailed", "Logins")} == {
        "Sent": 4, "Unknown": 1, "Failed": 1, "RunFailed": 0.0, "Logins": 1,
    }  # fmt: skip
    assert record["FunctionName"] == "naver-sms-automation" and float(record["RunDuration"]) > 0  # type: ignore[arg-type]
    assert "0105555" not in json.dumps(record)


def test_a_failed_run_writes_run_failed(
    world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NAVER_PASSWORD", "wrong")
    main.lambda_handler(RUN, None)
    (record,) = emf_records(capsys.readouterr().out)
    assert (record["RunFailed"], record["Sent"], record["LoginFailed"]) == (1.0, 0, 1)


def test_one_refused_sms_and_one_bad_record_do_not_stop_the_run(
    world: tuple[FakeNaver, FakeSens], real_sends: FakeSens
) -> None:
    naver, sens = world
    naver.state.bookings.append({**naver.state.bookings[0], "id": "bk-bad", "phone": "\uff10\uff11\uff10"})
    sens.state.fail_next, sens.state.fail_status = 1, 400
    result = main.lambda_handler(REAL, None)
    assert (result["status"], result["bookings"], result["sent"]) == ("partial", 9, 4)
    failures = {(f["outcome"], f["booking_id"]) for f in result["failed"]}
    assert ("invalid", "bk-bad") in failures and len(failures) == 2
    assert any("SENS refused the message: HTTP 400" in f["reason"] for f in result["failed"])
    assert "0105555" not in json.dumps(result)  # a result never carries a phone number


def test_booking_api_retries_5xx(world: tuple[FakeNaver, FakeSens]) -> None:
    naver, _ = world
    naver.state.fail_next = 2
    assert main.lambda_handler(RUN, None)["status"] == "ok"
    assert naver.state.api_calls == 6


def test_naver_down_is_reported_and_alerted(
    world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch
) -> None:
    naver, sens = world
    naver.state.fail_next = 1000
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        result = main.lambda_handler(RUN, None)
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
    monkeypatch.setenv("SMS_DRY_RUN", "false")
    result = main.lambda_handler(REAL, None)
    assert result["error"]["type"] == "SentLogError"
    assert "ResourceNotFoundException" in result["error"]["message"]
    assert sens.state.sent == []


def test_missing_sms_credentials_fail_before_login(
    world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch
) -> None:
    naver, _ = world
    monkeypatch.delenv("SENS_SECRET_KEY")
    monkeypatch.setenv("SMS_DRY_RUN", "false")
    result = main.lambda_handler(REAL, None)
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
    assert result["version"] == naver_sms.__version__ == project_version()


def test_smoke_names_the_failing_check(monkeypatch: pytest.MonkeyPatch, aws: str) -> None:
    monkeypatch.setenv("CHROME_BIN", "/nonexistent/chrome")
    monkeypatch.setenv("NAVER_PASSWORD", "secretsmanager:absent")
    result = main.lambda_handler({"smoke": True}, None)
    assert result["status"] == "error"
    assert result["checks"]["settings"] == "ok"
    assert "ResourceNotFoundException" in result["checks"]["secrets"]
    assert "CHROME_BIN: '/nonexistent/chrome' is not an executable file" in result["checks"]["browser"]


def test_warm_runs_in_one_process_log_in_once(world: tuple[FakeNaver, FakeSens]) -> None:
    naver, _ = world
    logins = [main.lambda_handler(RUN, None)["login"] for _ in range(4)]
    assert logins == ["fresh", "reused", "reused", "reused"]
    assert naver.state.logins == 1
    assert browser_processes(os.getsid(0)) == []


@pytest.mark.parametrize("session_end", ["401", "redirect", "login_page"])
def test_a_session_naver_forgot_gets_one_re_login_and_every_sms_once(
    world: tuple[FakeNaver, FakeSens], real_sends: FakeSens, session_end: str
) -> None:
    naver, sens = world
    naver.state.session_end = session_end  # type: ignore[assignment]
    first = main.lambda_handler(REAL, None)
    assert (first["login"], first["sent"]) == ("fresh", 5)
    naver.state.forget_sessions()
    # New since the first run, inside its reminder window: the reminder, and (the change feed's
    # booking.created) its confirmation.
    naver.state.bookings.append(record(9, "confirmed", timedelta(hours=2)))
    again = main.lambda_handler(REAL, None)
    assert (again["status"], again["login"], again["sent"], again["skipped_duplicates"]) == (
        "ok",
        "fresh",
        2,
        5,
    )
    assert naver.state.logins == 2
    assert sens.state.received == 7 and len({m["messages"][0]["to"] for m in sens.state.sent}) == 6


def test_a_session_ending_on_page_two_restarts_the_pages_and_sends_nothing_twice(
    world: tuple[FakeNaver, FakeSens], real_sends: FakeSens
) -> None:
    naver, sens = world
    main.lambda_handler(REAL, None)
    calls, naver.state.forget_at_page = naver.state.api_calls, 2
    again = main.lambda_handler(REAL, None)
    # page 1 with the kept session, page 2 refused it; then all four pages with the new one.
    assert naver.state.api_calls - calls == 6
    assert (again["login"], again["bookings"], again["sent"], again["skipped_duplicates"]) == (
        "fresh",
        8,
        0,
        5,
    )
    assert sens.state.received == 5  # the claims: every SMS of the first run, and none again


def test_session_cookies_never_reach_a_log_or_a_result(
    world: tuple[FakeNaver, FakeSens], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    naver, _ = world
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    results = [main.lambda_handler(RUN, None) for _ in range(2)]
    naver.state.forget_sessions()
    results.append(main.lambda_handler(RUN, None))
    tokens = naver.state.issued
    assert [r["login"] for r in results] == ["fresh", "reused", "fresh"] and len(tokens) == 2
    seen = capsys.readouterr().out + json.dumps(results)
    for token in tokens:
        assert token not in seen and token.split("-")[-1] not in seen


def test_the_settings_files_log_level_applies_to_the_lambda_too(
    world: tuple[FakeNaver, FakeSens],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    settings = config / "settings.yaml"
    settings.write_text(settings.read_text().replace("log_level: INFO", "log_level: WARNING", 1))
    assert "log_level: WARNING" in settings.read_text()
    monkeypatch.setenv("APP_CONFIG_DIR", str(config))
    monkeypatch.delenv("LOG_LEVEL", raising=False)

    def logged() -> dict[str, str]:
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return {line["message"]: line["level"] for line in lines if "level" in line}

    assert main.lambda_handler(RUN, None)["status"] == "ok"
    quiet = logged()
    monkeypatch.setenv("APP_CONFIG_DIR", str(REPO / "config"))  # the committed INFO
    assert main.lambda_handler(RUN, None)["status"] == "ok"
    assert logged()["run finished"] == "INFO"
    assert "run finished" not in quiet and "INFO" not in quiet.values()


# --- #32: no SMS a customer should not get, no login the shop's account cannot afford ----------------


def metrics_of(out: str) -> dict[str, object]:
    (record,) = emf_records(out)
    return record


@pytest.mark.parametrize(
    "refusal",
    [
        (403, {"Retry-After": "2"}, '{"error": "rate limited"}', "wait 2 s"),
        (429, {"Retry-After": "2"}, '{"error": "too many requests"}', "wait 2 s"),
        (403, {}, "<html><body>Access denied by the WAF</body></html>", "gave no wait"),
    ],
)
def test_a_refused_booking_api_fails_fast_keeps_the_session_and_logs_in_nobody(
    world: tuple[FakeNaver, FakeSens],
    capsys: pytest.CaptureFixture[str],
    refusal: tuple[int, dict[str, str], str, str],
) -> None:
    naver, _ = world
    status, headers, body, wait = refusal
    assert main.lambda_handler(RUN, None)["login"] == "fresh"
    naver.state.refuse_api = (status, headers, body)
    capsys.readouterr()
    calls = naver.state.api_calls
    for n in range(4):
        result = main.lambda_handler(RUN, None)
        assert result["error"]["type"] == "SourceRefused"
        # While Naver's Retry-After lasts, the runs after the first make no request at all.
        asked = wait != "gave no wait" and n > 0
        assert ("no request was made" if asked else wait) in result["error"]["message"]
        record = metrics_of(capsys.readouterr().out)
        assert (record["RunFailed"], record["Logins"], record["LoginFailed"]) == (1.0, 0, 0)
    assert naver.state.api_calls - calls == (1 if "Retry-After" in headers else 4)
    naver.state.refuse_api = None
    time.sleep(2.1)
    assert main.lambda_handler(RUN, None)["login"] == "reused"
    assert naver.state.logins == 1  # refused runs, no new login


@pytest.mark.parametrize("outcome", ["wrong_password", "captcha", "challenge"])
def test_a_failed_login_backs_off_every_later_run_and_a_person_clears_it(
    world: tuple[FakeNaver, FakeSens],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    outcome: str,
) -> None:
    naver, _ = world
    monkeypatch.setenv("NAVER_LOGIN_TIMEOUT_SECONDS", "2")
    if outcome == "wrong_password":
        monkeypatch.setenv("NAVER_PASSWORD", "wrong")
    else:
        naver.state.login_outcome = outcome  # type: ignore[assignment]
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        first = main.lambda_handler(RUN, None)
        assert first["error"]["type"] == "LoginFailed"
        assert metrics_of(capsys.readouterr().out)["LoginFailed"] == 1
        for _ in range(3):
            later = main.lambda_handler(RUN, None)
            assert later["error"]["type"] == "LoginDeferred"
            assert "backing off after 1 failed login" in later["error"]["message"]
            record = metrics_of(capsys.readouterr().out)
            assert (record["Logins"], record["LoginFailed"], record["LoginDeferred"]) == (0, 0, 1)
    assert naver.state.login_posts == 1  # one browser login, whatever the runs after it
    assert len(slack.posts) == 1  # the failure alerted once; the deferred runs count in the metric
    naver.state.login_outcome = "ok"
    monkeypatch.delenv("NAVER_PASSWORD")
    monkeypatch.setenv("NAVER_PASSWORD", naver.state.password)
    clear = subprocess.run(
        ["make", "--no-print-directory", "login-guard", "ACTION=clear"],
        cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert clear.returncode == 0, clear.stderr
    assert main.lambda_handler(RUN, None)["login"] == "fresh"


def test_a_run_planning_one_send_over_the_breaker_sends_none_and_alerts_per_rule(
    world: tuple[FakeNaver, FakeSens], real_sends: FakeSens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_PER_RUN", "4")  # the samples plan 5 sends: reminder 3, thank_you 2
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        held = main.lambda_handler(REAL, None)
    assert held["status"] == "held" and held["held"] == {
        "new": 5, "limit": 4, "by_rule": {"reminder": 3, "thank_you": 2},
    }  # fmt: skip
    assert real_sends.state.received == 0 and sent_log_items() == []
    (post,) = slack.posts
    assert "reminder 3, thank_you 2" in str(post) and '"allow_sends": 5' in str(post)
    assert "5555" not in str(post)
    wrong = main.lambda_handler({**REAL, "allow_sends": 4}, None)
    assert wrong["status"] == "held" and real_sends.state.received == 0
    once = main.lambda_handler({**REAL, "allow_sends": 5}, None)
    assert (once["status"], once["sent"]) == ("ok", 5)
    assert recipients(real_sends) == REMINDED


@pytest.mark.parametrize(
    ("allow", "message"),
    [(0, "from 1 to"), (True, "whole number"), ("5", "whole number"), (2.5, "whole number")],
)
def test_a_go_ahead_that_names_no_number_is_an_invalid_event(
    world: tuple[FakeNaver, FakeSens], allow: object, message: str
) -> None:
    result = main.lambda_handler({**REAL, "allow_sends": allow}, None)
    assert result["error"]["type"] == "InvalidEvent" and message in result["error"]["message"]
    assert world[0].state.logins == 0


# --- #33: every unknown alerted in the run that produced it; a deadline from the Lambda's context ----


class Countdown:
    """A Lambda context whose remaining time drops by `step_ms` with each SMS the fake SENS has taken, as
    a run whose sends are slow would: deterministic however often the run asks."""

    aws_request_id = "countdown"

    def __init__(self, sens: FakeSens, start_ms: int, step_ms: int) -> None:
        self.sens, self.start, self.step = sens, start_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.start - self.step * len(self.sens.state.sent)


def test_an_unknown_before_the_sent_log_failed_is_in_the_result_the_alert_and_the_metric(
    world: tuple[FakeNaver, FakeSens],
    real_sends: FakeSens,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sens = real_sends
    monkeypatch.setenv("SENS_MAX_ATTEMPTS", "1")
    sens.state.fail_next = 1  # the first SMS: a 503, so unknown, marked in the sent log

    class TableGoneAfterTheUnknown(list):  # type: ignore[type-arg]
        def append(self, item: object) -> None:
            super().append(item)
            boto3.client("dynamodb").delete_table(TableName="naver-sms-sent")

    sens.state.sent = TableGoneAfterTheUnknown()  # the second SMS goes out; its claim's confirm fails
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        capsys.readouterr()
        result = main.lambda_handler(REAL, None)
    assert result["status"] == "error" and result["error"]["type"] == "SentLogError"
    assert [f["outcome"] for f in result["failed"]] == ["unknown"]
    (post,) = slack.posts
    assert "SentLogError" in post["text"] and "unknown reminder booking bk-1" in post["text"]
    record = metrics_of(capsys.readouterr().out)
    assert (record["RunFailed"], record["Unknown"]) == (1.0, 1)


async def killed_run(message: PlannedMessage, *, age: float) -> None:
    """What a run killed at its timeout leaves: `message` claimed `age` seconds ago by another process and
    marked unknown, never reported."""
    log = dynamo_sent_log("naver-sms-sent", "lambda:killed")
    claim, _ = await log.claim(message, time.time() - age)
    assert await log.mark_unknown(message, claim, "no answer from SENS within 8 s")


def test_a_run_near_its_deadline_claims_no_more_and_the_next_run_sends_the_rest_once(
    world: tuple[FakeNaver, FakeSens],
    real_sends: FakeSens,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # SENS 1 s x 1 attempt: a worst-case send plus the 30 s margin is about 31 s. The time left drops
    # 8 s with each SMS sent: 52, 44 and 36 s allow a send each, 28 does not.
    monkeypatch.setenv("SENS_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("SENS_MAX_ATTEMPTS", "1")
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        capsys.readouterr()
        first = main.lambda_handler(REAL, Countdown(real_sends, 52_000, 8_000))
        (post,) = slack.posts
    assert (first["status"], first["sent"], first["deferred"]) == ("partial", 3, 2)
    assert "2 message(s) left for the next run" in post["text"]
    assert metrics_of(capsys.readouterr().out)["Deferred"] == 2
    assert len(sent_log_items()) == 3  # the deferred were never claimed: nobody reports them unknown
    second = main.lambda_handler(REAL, None)
    assert (second["status"], second["sent"], second["skipped_duplicates"]) == ("ok", 2, 3)
    assert recipients(real_sends) == REMINDED


def test_an_unknown_whose_run_was_killed_before_reporting_it_is_reported_by_the_next_run_once(
    world: tuple[FakeNaver, FakeSens],
    real_sends: FakeSens,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    naver, sens = world
    # What a run killed at its timeout leaves: bk-1's reminder claimed and marked unknown, never reported.
    rules = load_rules(REPO / "config" / "rules.yaml")
    booking = booking_from_mapping(naver.state.bookings[0])
    (rule,) = rules.applicable(booking, datetime.now(UTC))
    message = rule.render(booking, rules.timezone)

    asyncio.run(killed_run(message, age=30))
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        capsys.readouterr()
        first = main.lambda_handler(REAL, None)
        (unknown,) = first["failed"]
        assert (unknown["outcome"], unknown["booking_id"]) == ("unknown", "bk-1")
        assert "lambda:killed" in unknown["reason"] and "never reported until now" in unknown["reason"]
        assert metrics_of(capsys.readouterr().out)["Unknown"] == 1
        again = main.lambda_handler(REAL, None)
        assert (again["status"], again["unresolved"], again["failed"]) == ("ok", 1, [])
    assert len(slack.posts) == 1 and "unknown reminder booking bk-1" in slack.posts[0]["text"]
    assert sens.state.received == 4  # the unknown one is never sent again


def test_a_rotated_sens_key_is_read_again_after_sens_refuses_the_old_one(
    world: tuple[FakeNaver, FakeSens], real_sends: FakeSens, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="naver-sms/sens", SecretString=json.dumps({"secret_key": "before-rotation"}))
    monkeypatch.setenv("SENS_SECRET_KEY", "secretsmanager:naver-sms/sens#secret_key")
    first = main.lambda_handler(REAL, None)  # SENS refuses the signature: 401, known not sent
    assert first["sent"] == 0 and {f["outcome"] for f in first["failed"]} == {"retry"}
    assert real_sends.state.rejected_signatures == 5
    secrets.put_secret_value(SecretId="naver-sms/sens", SecretString=json.dumps({"secret_key": SECRET_KEY}))
    second = main.lambda_handler(REAL, None)  # well inside the 900 s TTL: read again all the same
    assert (second["status"], second["sent"]) == ("ok", 5)


def test_a_rotated_naver_password_is_read_again_after_a_failed_login(
    world: tuple[FakeNaver, FakeSens], monkeypatch: pytest.MonkeyPatch
) -> None:
    naver, _ = world
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="naver-sms/naver", SecretString=json.dumps({"password": "before-rotation"}))
    monkeypatch.setenv("NAVER_PASSWORD", "secretsmanager:naver-sms/naver#password")
    assert main.lambda_handler(RUN, None)["error"]["type"] == "LoginFailed"
    secrets.put_secret_value(
        SecretId="naver-sms/naver", SecretString=json.dumps({"password": naver.state.password})
    )
    cleared = script("login-guard.sh", ACTION="clear")  # a person fixed the cause
    assert cleared.returncode == 0, cleared.stderr
    assert main.lambda_handler(RUN, None)["login"] == "fresh"


def test_an_unreported_unknown_nobody_plans_any_more_is_found_by_the_sweep_and_reported_once(
    world: tuple[FakeNaver, FakeSens], real_sends: FakeSens, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run that marked it was killed before reporting it, and its booking has left the API since
    # (or its window closed): no run plans it again, and only the sent log's open index still has it.
    gone = PlannedMessage("reminder", "bk-gone", "01055550099", "x", "g" * 40)

    asyncio.run(killed_run(gone, age=600))
    with Recorder() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        first = main.lambda_handler(REAL, None)
        assert [(f["outcome"], f["booking_id"]) for f in first["failed"]] == [("unknown", "bk-gone")]
        assert first["sent"] == 5
        again = main.lambda_handler(REAL, None)
        assert again["failed"] == []
    assert len(slack.posts) == 1 and "bk-gone" in slack.posts[0]["text"]


@pytest.mark.parametrize("left_ms", [20_000, "soon"])
def test_a_lambda_whose_time_cannot_hold_one_send_is_refused_before_any_login(
    world: tuple[FakeNaver, FakeSens], left_ms: object
) -> None:
    class Context:
        aws_request_id = "short"

        def get_remaining_time_in_millis(self) -> object:
            return left_ms

    result = main.lambda_handler(RUN, Context())
    assert (
        result["error"]["type"] == "DeadlineTooShort"
        and "raise the function's timeout" in result["error"]["message"]
    )
    assert world[0].state.logins == 0
