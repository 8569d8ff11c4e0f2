"""The worker's settlement, row by row: what one event's deliveries make it ack, nak or term, and the
records it publishes (subject, record, Nats-Msg-Id)."""

from __future__ import annotations

import json

import pytest

from naver_sms.application.delivery import Delivery, Outcome
from naver_sms.application.errors import SentLogError
from naver_sms.application.settlement import REPORTED_BEFORE, Action, Original, Settlement, SettlementPolicy
from naver_sms.domain.errors import InvalidEvent
from naver_sms.domain.messages import PlannedMessage

MESSAGE = PlannedMessage("confirmation", "bk-1", "01012345678", "text", "k" * 40)
POLICY = SettlementPolicy(
    sent_subject="sms.sent",
    failed_subject="sms.failed",
    dlq_subject="bookings.dlq",
    nak_delay=5.0,
    max_deliver=3,
    max_payload=1024,
)
FIRST, LAST = 1, 3


def of(outcome: Outcome, **details: object) -> Delivery:
    return Delivery.of(MESSAGE, outcome, **details)  # type: ignore[arg-type]


def published(deliveries: list[Delivery], delivered: int = FIRST) -> list[tuple[str, dict[str, object], str]]:
    settlement = POLICY.settle("ev-1", deliveries, delivered)
    return [
        (p.subject, json.loads(p.payload), p.headers.get("Nats-Msg-Id", "")) for p in settlement.publications
    ]


@pytest.mark.parametrize("outcome", [Outcome.SENT, Outcome.DUPLICATE])
def test_a_sent_message_is_acked_and_recorded_once_per_key(outcome: Outcome) -> None:
    settlement = POLICY.settle("ev-1", [of(outcome, provider_id="req-1")], FIRST)
    assert settlement.action is Action.ACK
    ((subject, record, msg_id),) = published([of(outcome, provider_id="req-1")])
    assert (subject, msg_id) == ("sms.sent", MESSAGE.idempotency_key)
    assert record == {
        "outcome": outcome.value,
        "idempotency_key": MESSAGE.idempotency_key,
        "rule": "confirmation",
        "booking_id": "bk-1",
        "provider_id": "req-1",
        "event_id": "ev-1",
    }


def test_an_unknown_outcome_is_acked_and_recorded_under_the_keys_unknown_id() -> None:
    ((subject, record, msg_id),) = published([of(Outcome.UNKNOWN, reason="SENS answered HTTP 503")])
    assert (subject, msg_id) == ("sms.failed", f"{MESSAGE.idempotency_key}.unknown")
    assert (record["outcome"], record["reason"]) == ("unknown", "SENS answered HTTP 503")


def test_an_unknown_found_again_is_recorded_again_as_unknown() -> None:
    # The first record may have been lost: the same Nats-Msg-Id keeps one copy in the stream's window.
    ((subject, record, msg_id),) = published([of(Outcome.STILL_UNKNOWN)])
    assert (subject, msg_id) == ("sms.failed", f"{MESSAGE.idempotency_key}.unknown")
    assert (record["outcome"], record["reason"]) == ("unknown", REPORTED_BEFORE)


@pytest.mark.parametrize(
    ("retry_after", "delay"), [(None, 5.0), (1.0, 5.0), (30.0, 30.0)], ids=["none", "shorter", "longer"]
)
def test_a_known_unsent_failure_naks_with_the_providers_wait_as_a_floor(
    retry_after: float | None, delay: float
) -> None:
    settlement = POLICY.settle("ev-1", [of(Outcome.RETRY, retry_after=retry_after)], FIRST)
    assert (settlement.action, settlement.delay, settlement.publications) == (Action.NAK, delay, ())


@pytest.mark.parametrize(
    ("retry_after", "delay"), [(2.0, 2.0), (60.0, 5.0)], ids=["lease-ends-first", "later"]
)
def test_a_claim_in_flight_is_looked_at_again_when_its_lease_ends_or_after_the_usual_delay(
    retry_after: float, delay: float
) -> None:
    settlement = POLICY.settle("ev-1", [of(Outcome.IN_FLIGHT, retry_after=retry_after)], FIRST)
    assert (settlement.action, settlement.delay) == (Action.NAK, delay)


def test_the_delivery_before_the_last_waits_out_a_claims_lease_so_the_last_can_report_it() -> None:
    # A dead worker's claim with 300 s of lease left: the last delivery must come after it has ended
    # (and find it stale: reported unknown), not 5 s later (still live: given up, never reported).
    settlement = POLICY.settle("ev-1", [of(Outcome.IN_FLIGHT, retry_after=300.0)], LAST - 1)
    assert (settlement.action, settlement.delay) == (Action.NAK, 300.0)
    short = POLICY.settle("ev-1", [of(Outcome.IN_FLIGHT, retry_after=2.0)], LAST - 1)
    assert short.delay == 5.0  # never sooner than the usual delay


@pytest.mark.parametrize("outcome", [Outcome.RETRY, Outcome.IN_FLIGHT])
def test_on_the_last_delivery_what_might_pass_later_is_acked_and_recorded_as_given_up(
    outcome: Outcome,
) -> None:
    delivery = of(outcome, reason="SENS is rate limiting: HTTP 429: to 01012345678", retry_after=1.0)
    assert POLICY.settle("ev-1", [delivery], LAST).action is Action.ACK
    ((subject, record, msg_id),) = published([delivery], LAST)
    assert (subject, msg_id) == ("sms.failed", "")
    assert record["reason"] == "SENS is rate limiting: HTTP 429: to 010****5678; gave up after 3 deliveries"


def test_without_a_delivery_limit_no_delivery_is_the_last() -> None:
    unlimited = SettlementPolicy("s", "f", "d", 5.0, max_deliver=None, max_payload=1024)
    assert unlimited.settle("ev-1", [of(Outcome.RETRY)], 10_000).action is Action.NAK


@pytest.mark.parametrize("outcome", [Outcome.REFUSED, Outcome.INVALID])
def test_a_refusal_or_an_invalid_message_is_acked_and_recorded_as_failed(outcome: Outcome) -> None:
    ((subject, record, msg_id),) = published([of(outcome, reason="HTTP 400")])
    assert (subject, record["outcome"], msg_id) == ("sms.failed", outcome.value, "")


def test_a_dry_run_is_acked_with_no_record() -> None:
    settlement = POLICY.settle("ev-1", [of(Outcome.DRY_RUN)], FIRST)
    assert (settlement.action, settlement.publications) == (Action.ACK, ())


def test_an_event_with_one_sent_and_one_to_retry_records_the_sent_and_naks() -> None:
    settlement = POLICY.settle("ev-1", [of(Outcome.SENT, provider_id="r"), of(Outcome.RETRY)], FIRST)
    assert settlement.action is Action.NAK
    assert [p.subject for p in settlement.publications] == ["sms.sent"]


ORIGINAL = Original(b'{"event_id": "ev-1"}', "bookings.events", "BOOKINGS", "7")


def test_a_failed_handling_naks_until_the_last_delivery_then_dead_letters() -> None:
    again = POLICY.after_failure(ORIGINAL, SentLogError("timeout"), FIRST)
    assert (again.action, again.delay, again.publications) == (Action.NAK, 5.0, ())
    last = POLICY.after_failure(ORIGINAL, SentLogError("timeout"), LAST)
    assert last.action is Action.TERM
    (letter,) = last.publications
    assert (letter.subject, letter.payload) == ("bookings.dlq", ORIGINAL.data)
    assert letter.headers["Dead-Letter-Reason"] == "handling failed on delivery 3: SentLogError: timeout"
    assert letter.headers["Dead-Letter-Error-Type"] == "SentLogError"


def test_a_dead_letter_that_cannot_be_published_naks_until_the_last_delivery_then_terminates() -> None:
    assert POLICY.after_dead_letter_failed(FIRST) == Settlement(Action.NAK, delay=5.0)
    assert POLICY.after_dead_letter_failed(LAST) == Settlement(Action.TERM)


def test_an_invalid_event_is_dead_lettered_with_where_it_came_from() -> None:
    settlement = POLICY.invalid(ORIGINAL, InvalidEvent("not JSON"))
    assert settlement.action is Action.TERM
    (letter,) = settlement.publications
    assert dict(letter.headers) == {
        "Dead-Letter-Reason": "not JSON",
        "Dead-Letter-Error-Type": "InvalidEvent",
        "Original-Subject": "bookings.events",
        "Original-Stream": "BOOKINGS",
        "Original-Sequence": "7",
    }


def test_a_dead_letter_too_big_for_the_server_carries_a_masked_reference_instead() -> None:
    big = Original(b'{"phone": "01012345678", "pad": "' + b"x" * 2000 + b'"}', "bookings.events", "B", "9")
    letter = POLICY.dead_letter(big, "reason " + "r" * 1000, msg_id="max-deliveries:B:9")
    assert letter.headers["Dead-Letter-Payload"] == "reference"
    assert letter.headers["Nats-Msg-Id"] == "max-deliveries:B:9"
    assert len(letter.headers["Dead-Letter-Reason"]) == 500
    reference = json.loads(letter.payload)
    assert (reference["size"], reference["sequence"]) == (len(big.data), "9")
    assert "01012345678" not in reference["head"] and "010****5678" in reference["head"]
