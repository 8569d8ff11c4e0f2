"""SENS keys rotated under a running transport: SENS's refusal of the old keys (401, 403) is known not
sent, so the claim is released and a later try sends, signed with the keys read again; no restart."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import boto3
import pytest

from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.application.delivery import Deliverer, Delivery, Outcome
from naver_sms.application.errors import NotDelivered
from naver_sms.application.ports import ClaimState, SmsTransport
from naver_sms.application.send_policy import SendPolicy
from naver_sms.bootstrap.shared import sms_transport
from naver_sms.domain.messages import PlannedMessage
from naver_sms.settings import Settings
from tests.support import fake_sens as sens_fake
from tests.support.fake_sens import FakeSens
from tests.support.fakes import FakeSentLog

MESSAGE = PlannedMessage("r", "bk-1", "01012345678", "hi", "k" * 40)
QUICK = SendPolicy(timeout=1.0, max_attempts=3, backoff=0.01, max_retry_after=2.0)
RIGHT = SensCredentials(sens_fake.ACCESS_KEY, sens_fake.SECRET_KEY, sens_fake.SERVICE_ID, sens_fake.SENDER)
BEFORE_ROTATION = SensCredentials(
    sens_fake.ACCESS_KEY, "before-rotation", sens_fake.SERVICE_ID, sens_fake.SENDER
)


@dataclass
class RotatingKeys:
    """A secret cache in small: the keys it read, until it is told to read them again."""

    current: SensCredentials = BEFORE_ROTATION
    stored: SensCredentials = RIGHT  # what the secret store holds now: rotated
    reads: int = 0

    def __call__(self) -> SensCredentials:
        self.reads += 1
        return self.current

    def refresh(self) -> None:
        self.current = self.stored


def deliveries(transport: SmsTransport, log: FakeSentLog, times: int) -> list[Delivery]:
    """The message delivered `times` times, one after another, by one transport on one event loop (as a
    worker's life, or one Lambda run with the same key met again)."""

    async def each() -> list[Delivery]:
        deliverer = Deliverer(transport=transport, sent_log=log, lease_seconds=60, dry_run=False)
        try:
            return [await deliverer.deliver(MESSAGE) for _ in range(times)]
        finally:
            await transport.close()

    return asyncio.run(each())


@pytest.mark.parametrize("status", [401, 403])
def test_keys_sens_refuses_are_not_delivered_and_not_retried_in_the_send(
    fake_sens: FakeSens, status: int
) -> None:
    fake_sens.state.fail_next, fake_sens.state.fail_status = 1, status  # a 403 as a 401: the keys' refusal
    keys = RotatingKeys(current=RIGHT)
    transport = SensTransport(fake_sens.url, keys, QUICK, pool_size=1, credentials_refused=keys.refresh)
    with pytest.raises(NotDelivered, match=f"SENS refused the access key or signature .HTTP {status}"):
        asyncio.run(transport.send(MESSAGE))
    assert (fake_sens.state.received, fake_sens.state.sent) == (1, [])


def test_a_rotated_key_releases_the_claim_and_the_next_try_signs_with_the_new_one(
    fake_sens: FakeSens,
) -> None:
    keys, log = RotatingKeys(), FakeSentLog()
    transport = SensTransport(fake_sens.url, keys, QUICK, pool_size=1, credentials_refused=keys.refresh)
    first, second = deliveries(transport, log, 2)  # the same transport: no restart
    assert first.outcome is Outcome.RETRY and "HTTP 401" in first.reason and "read again" in first.reason
    assert first.retry_after is None  # the worker naks it for NAK_DELAY_SECONDS
    assert second.outcome is Outcome.SENT
    assert log.state(MESSAGE) is ClaimState.SENT  # so the first released its claim: known not sent
    assert (fake_sens.state.rejected_signatures, len(fake_sens.state.sent)) == (1, 1)
    assert keys.reads == 2, "the keys are asked for before each attempt"


def test_both_images_transport_reads_a_rotated_secret_after_sens_refuses_the_old_one(
    aws: str, fake_sens: FakeSens
) -> None:
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="naver-sms/sens", SecretString=json.dumps({"secret_key": "before-rotation"}))
    settings = Settings.load(
        environ={**fake_sens.env(), "SENS_SECRET_KEY": "secretsmanager:naver-sms/sens#secret_key"}
    )
    transport, log = sms_transport(settings, dry_run=False, concurrency=1), FakeSentLog()
    secrets.put_secret_value(
        SecretId="naver-sms/sens", SecretString=json.dumps({"secret_key": sens_fake.SECRET_KEY})
    )
    # Rotated after the transport read the key: well inside the 15 min TTL, its cached value is the old one.
    first, second = deliveries(transport, log, 2)
    assert (first.outcome, second.outcome) == (Outcome.RETRY, Outcome.SENT)
    assert (fake_sens.state.rejected_signatures, len(fake_sens.state.sent)) == (1, 1)


def test_a_key_that_cannot_be_read_sends_nothing_and_is_tried_again_later(
    aws: str, fake_sens: FakeSens
) -> None:
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(
        Name="naver-sms/sens", SecretString=json.dumps({"secret_key": sens_fake.SECRET_KEY})
    )
    settings = Settings.load(
        environ={
            **fake_sens.env(),
            "SENS_SECRET_KEY": "secretsmanager:naver-sms/sens#secret_key",
            "SECRET_TTL_SECONDS": "0",
            "SENS_MAX_ATTEMPTS": "1",
        }
    )
    transport, log = sms_transport(settings, dry_run=False, concurrency=1), FakeSentLog()
    secrets.delete_secret(SecretId="naver-sms/sens", ForceDeleteWithoutRecovery=True)
    (failed,) = deliveries(transport, log, 1)
    assert failed.outcome is Outcome.RETRY and "SENS's keys cannot be read" in failed.reason
    assert log.state(MESSAGE) is None and fake_sens.state.received == 0
