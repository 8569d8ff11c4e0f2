"""The path most users take (#37): a stack deployed from infra/template.yaml with its defaults (moto's
CloudFormation), its function's environment exactly as deployed, its secret references read from moto's
Secrets Manager, runs the Lambda handler against the fake Naver (real Chromium) and the fake SENS. Over
three scheduled runs every shipped rule reaches its customer, once: the reminder and the thank-you of the
scheduled path, and, from the change feed, the confirmation of a new booking and the cancellation of a
cancelled one. Only where the function reaches Naver and SENS is changed: to the fakes.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import boto3
import pytest

import main
from tests.integration.test_infra import IMAGE, deploy
from tests.support.bookings import record
from tests.support.fake_naver import FakeNaver
from tests.support.fake_sens import ACCESS_KEY, SECRET_KEY, SENDER, SERVICE_ID, FakeSens

SCHEDULED = {"version": "0", "id": "template", "source": "aws.events", "detail-type": "Scheduled Event",
             "account": "123456789012", "time": "2026-11-24T00:00:00Z", "region": "ap-northeast-2",
             "resources": [], "detail": {}}  # fmt: skip
WORDS = {"잊지": "reminder", "감사": "thank_you", "확정": "confirmation", "취소": "cancellation"}


def sent(sens: FakeSens) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for message in sens.state.sent:
        kind = next(k for word, k in WORDS.items() if word in message["content"])
        kinds[f"{message['messages'][0]['to']} {kind}"] += 1
    return kinds


def test_a_template_deployment_sends_every_shipped_rule_once(
    aws: str,
    fake_naver: FakeNaver,
    fake_sens: FakeSens,
    browser_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets = boto3.client("secretsmanager")
    naver = {"username": fake_naver.state.username, "password": fake_naver.state.password}
    secrets.create_secret(Name="naver-sms/naver", SecretString=json.dumps(naver))
    sens = {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    secrets.create_secret(Name="naver-sms/sens", SecretString=json.dumps(sens))
    deploy(ImageUri=IMAGE, SmsDryRun="false", SensServiceId=SERVICE_ID, SensSender=SENDER)
    function = boto3.client("lambda").get_function(FunctionName="naver-sms-automation")
    deployed = function["Configuration"]["Environment"]["Variables"]
    assert deployed["EVENTS_MODE"] == "" and deployed["EVENTS_NATS_URL"] == ""  # the defaults: send
    for name, value in deployed.items():
        monkeypatch.setenv(name, value)
    for name in ("NAVER_LOGIN_URL", "NAVER_BOOKINGS_URL"):
        monkeypatch.setenv(name, fake_naver.env()[name])
    monkeypatch.setenv("SENS_ENDPOINT", fake_sens.env()["SENS_ENDPOINT"])

    soon = record(1, "confirmed", timedelta(hours=20))  # in its reminder window
    done = record(2, "completed", timedelta(hours=-2))  # in its thank-you window
    fake_naver.state.bookings = [soon, done, record(3, "confirmed", timedelta(days=3))]
    first = main.lambda_handler(SCHEDULED, None)
    assert (first["status"], first["feed"]["baseline"], first["sent"]) == ("ok", True, 2), first
    # Since the first run: bk-3 cancelled, bk-4 booked.
    cancelled, new = record(3, "cancelled", timedelta(days=3)), record(4, "confirmed", timedelta(days=3))
    fake_naver.state.bookings = [soon, done, cancelled, new]
    second = main.lambda_handler(SCHEDULED, None)
    events = second["feed"]["events"]
    assert (events["booking.created"], events["booking.cancelled"], second["sent"]) == (1, 1, 2), second
    assert main.lambda_handler(SCHEDULED, None)["sent"] == 0
    assert sent(fake_sens) == Counter(
        {
            "01055550001 reminder": 1,
            "01055550002 thank_you": 1,
            "01055550003 cancellation": 1,
            "01055550004 confirmation": 1,
        }
    )
