"""Each row of the delivery semantics table in docs/architecture.md, against honest fakes of the ports."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from naver_sms.application.delivery import Deliverer, Outcome
from naver_sms.application.dry_run import RealSendsNotAllowed, RefusingTransport, decide_dry_run
from naver_sms.application.errors import Refused, SentLogError
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage
from tests.support.fakes import (
    FakeSentLog,
    FakeTransport,
    accepted,
    crashes,
    not_delivered,
    refused,
    unknown,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
LEASE = 120.0
MESSAGE = PlannedMessage("reminder", "bk-1", "01012345678", "김님, 내일 10:00 커트", "k" * 40)


def deliverer(transport: FakeTransport, log: FakeSentLog, *, dry_run: bool = False) -> Deliverer:
    return Deliverer(transport, log, owner="test:1", lease_seconds=LEASE, dry_run=dry_run)


def test_accepted_send_is_confirmed_with_the_provider_id() -> None:
    transport, log = FakeTransport(), FakeSentLog()
    delivery = deliverer(transport, log).deliver(MESSAGE, NOW)
    assert (delivery.outcome, delivery.provider_id) == (Outcome.SENT, "req-kkkkkkkk")
    assert log.claims[MESSAGE.idempotency_key].state is ClaimState.SENT
    assert transport.sent == [MESSAGE]


def test_a_sent_message_is_a_duplicate_and_is_not_sent_again() -> None:
    transport, log = FakeTransport(), FakeSentLog()
    deliverer(transport, log).deliver(MESSAGE, NOW)
    again = deliverer(transport, log).deliver(MESSAGE, NOW + 3600)
    assert (again.outcome, again.provider_id) == (Outcome.DUPLICATE, "req-kkkkkkkk")
    assert len(transport.sent) == 1


def test_known_not_sent_releases_the_claim_so_a_retry_can_send() -> None:
    log = FakeSentLog()
    first = deliverer(FakeTransport(not_delivered(retry_after=1.5)), log).deliver(MESSAGE, NOW)
    assert (first.outcome, first.retry_after) == (Outcome.RETRY, 1.5)
    assert log.state(MESSAGE) is None
    transport = FakeTransport()
    assert deliverer(transport, log).deliver(MESSAGE, NOW + 2).outcome is Outcome.SENT
    assert transport.sent == [MESSAGE]


def test_refused_is_a_failure_with_the_reason_and_leaves_no_claim() -> None:
    log = FakeSentLog()
    delivery = deliverer(FakeTransport(refused), log).deliver(MESSAGE, NOW)
    assert delivery.outcome is Outcome.REFUSED
    assert delivery.as_record() == {
        "outcome": "refused",
        "idempotency_key": MESSAGE.idempotency_key,
        "rule": "reminder",
        "booking_id": "bk-1",
        "reason": "SENS refused the message: HTTP 400",
    }
    assert log.state(MESSAGE) is None


@pytest.mark.parametrize("answer", [unknown, crashes], ids=["5xx-or-timeout", "transport-bug"])
def test_a_send_that_may_have_gone_out_is_unknown_and_never_resent(answer: object) -> None:
    transport, log = FakeTransport(answer), FakeSentLog()  # type: ignore[arg-type]
    first = deliverer(transport, log).deliver(MESSAGE, NOW)
    assert first.outcome is Outcome.UNKNOWN
    assert log.state(MESSAGE) is ClaimState.UNKNOWN
    retried = FakeTransport()
    for later in (NOW + 1, NOW + LEASE * 10):
        assert deliverer(retried, log).deliver(MESSAGE, later).outcome is Outcome.STILL_UNKNOWN
    assert retried.sent == []
    assert len(transport.sent) == 1


def test_a_live_claim_of_another_sender_is_in_flight_and_not_sent() -> None:
    log = FakeSentLog()
    log.claim(MESSAGE, "worker:other:7", NOW)
    transport = FakeTransport()
    delivery = deliverer(transport, log).deliver(MESSAGE, NOW + LEASE - 1)
    assert delivery.outcome is Outcome.IN_FLIGHT
    assert "worker:other:7" in delivery.reason
    assert delivery.retry_after == 2.0  # look again just after the lease ends
    assert transport.sent == []


def test_a_second_delivery_during_a_slow_send_is_in_flight_and_sends_nothing() -> None:
    log, seen_meanwhile = FakeSentLog(), []
    other = FakeTransport()

    def slow(message: PlannedMessage) -> str:
        # While this send hangs on the provider, a redelivery (another worker) looks at the same message.
        seen_meanwhile.append(deliverer(other, log).deliver(message, NOW + 5).outcome)
        return accepted(message)

    assert deliverer(FakeTransport(slow), log).deliver(MESSAGE, NOW).outcome is Outcome.SENT
    assert seen_meanwhile == [Outcome.IN_FLIGHT]
    assert other.sent == []


def test_a_stale_claim_is_reported_unknown_exactly_once() -> None:
    log = FakeSentLog()
    log.claim(MESSAGE, "worker:dead:7", NOW)  # claimed, then the process was killed
    transport = FakeTransport()
    first = deliverer(transport, log).deliver(MESSAGE, NOW + LEASE + 1)
    assert first.outcome is Outcome.UNKNOWN
    assert "worker:dead:7" in first.reason and "never confirmed" in first.reason
    second = deliverer(transport, log).deliver(MESSAGE, NOW + LEASE + 2)
    assert second.outcome is Outcome.STILL_UNKNOWN
    assert transport.sent == []


class OtherReaderWinsTheRace(FakeSentLog):
    """Between this reader's claim attempt and its report, another reader reports the stale claim."""

    def claim(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]:
        held, created = super().claim(message, owner, now)
        if not created:
            assert super().mark_unknown(message, held, "reported by the other reader")
        return held, created


def test_two_readers_of_one_stale_claim_report_it_once() -> None:
    log = OtherReaderWinsTheRace()
    log.claim(MESSAGE, "worker:dead:7", NOW)
    loser = deliverer(FakeTransport(), log).deliver(MESSAGE, NOW + LEASE + 1)
    assert loser.outcome is Outcome.STILL_UNKNOWN


class ConfirmFails(FakeSentLog):
    def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        raise SentLogError("the store went away")


def test_a_send_whose_confirmation_fails_is_sent_and_its_claim_later_reports_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log, transport = ConfirmFails(), FakeTransport()
    assert deliverer(transport, log).deliver(MESSAGE, NOW).outcome is Outcome.SENT
    assert "sms sent but not confirmed" in caplog.text
    later = deliverer(transport, log).deliver(MESSAGE, NOW + LEASE + 1)
    assert later.outcome is Outcome.UNKNOWN
    assert len(transport.sent) == 1


def test_dry_run_sends_and_records_nothing_but_still_sees_what_was_sent() -> None:
    log = FakeSentLog()
    dry = Deliverer(RefusingTransport(), log, owner="t", lease_seconds=LEASE, dry_run=True)
    assert dry.deliver(MESSAGE, NOW).outcome is Outcome.DRY_RUN
    assert log.claims == {}
    deliverer(FakeTransport(), log).deliver(MESSAGE, NOW)
    assert dry.deliver(MESSAGE, NOW).outcome is Outcome.DUPLICATE


def test_logs_mask_the_phone_and_never_carry_the_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    deliverer(FakeTransport(unknown), FakeSentLog()).deliver(MESSAGE, NOW)
    (record,) = [r for r in caplog.records if r.getMessage() == "sms unknown"]
    assert record.levelno == logging.ERROR
    assert record.__dict__["phone"] == "010****5678"
    logged = " ".join(str(v) for v in record.__dict__.values())
    assert "01012345678" not in logged and MESSAGE.text not in logged


@pytest.mark.parametrize(
    ("settings", "requested", "dry_run"),
    [
        (True, None, True),
        (True, True, True),
        (False, None, False),
        (False, True, True),
        (False, False, False),
    ],
)
def test_settings_are_a_ceiling_on_real_sends(settings: bool, requested: bool | None, dry_run: bool) -> None:
    assert decide_dry_run(settings, requested) is dry_run


def test_asking_for_real_sends_under_dry_run_settings_is_an_error() -> None:
    with pytest.raises(RealSendsNotAllowed, match="SMS_DRY_RUN=false"):
        decide_dry_run(True, False)


def test_the_dry_run_transport_refuses_loudly() -> None:
    with pytest.raises(AssertionError, match="dry run tried to send"):
        RefusingTransport().send(MESSAGE)


def test_claims_are_compare_and_set() -> None:
    log = FakeSentLog()
    made, created = log.claim(MESSAGE, "a", NOW)
    assert created
    held, created_again = log.claim(MESSAGE, "b", NOW + 1)
    assert (held, created_again) == (made, False)
    assert not log.mark_unknown(MESSAGE, Claim(ClaimState.CLAIMED, "b", NOW + 1, revision=1), "stale view")


def test_a_reason_quoting_the_phone_number_is_masked_in_the_record() -> None:
    def refused_with_echo(message: PlannedMessage) -> str:
        raise Refused(f"SENS refused the message: HTTP 400: invalid recipient {message.phone}")

    record = deliverer(FakeTransport(refused_with_echo), FakeSentLog()).deliver(MESSAGE, NOW).as_record()
    assert record["reason"].endswith("invalid recipient 010****5678")
