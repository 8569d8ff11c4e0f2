"""The Reconciler, branch by branch, against small honest fakes of its ports: the sent log's real
lifecycle over a dict (FakeSentLog), its sparse listing (MemoryOpenClaims) and SENS's record in a list
(FakeSentMessages)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from naver_sms.application.delivery import Deliverer, Outcome
from naver_sms.application.errors import SentMessagesUnavailable
from naver_sms.application.ports import Claim, ClaimState, HandsetResult, Processing, SentMessage
from naver_sms.application.reconcile import SAME_RECIPIENT, Reconciler, ReconcileSettings
from naver_sms.application.reconcile_result import ReconcileResult
from naver_sms.domain.messages import PlannedMessage, SentBy
from tests.support.fakes import FakeClock, FakeSentLog, FakeSentMessages, FakeTransport, MemoryOpenClaims

NOW = float(int(time.time()))  # confirmations are stamped with the wall clock: the tests' clock is near it
LEASE = 120.0
DAY = 86_400.0
SETTINGS = ReconcileSettings(lease_seconds=LEASE)
SETTLED = LEASE + SETTINGS.margin_seconds + SETTINGS.settle_seconds + 1  # claimed this long ago: settled
TEXT = "내일 3시 예약입니다\n감사합니다"


def message(
    n: int = 1, until: float = NOW + DAY, sent_by: SentBy | None = SentBy.SCHEDULED
) -> PlannedMessage:
    """A message of a scheduled rule (the path that replans it), as the Lambda's run plans it."""
    return PlannedMessage(
        "reminder",
        f"bk-{n}",
        f"0101234567{n}",
        TEXT,
        f"{n:040d}",
        send_until=datetime.fromtimestamp(until, UTC),
        sent_by=sent_by,
    )


@dataclass
class World:
    clock: FakeClock = field(default_factory=lambda: FakeClock(NOW))
    log: FakeSentLog = field(default_factory=FakeSentLog)
    sens: FakeSentMessages = field(init=False)

    def __post_init__(self) -> None:
        self.sens = FakeSentMessages(self.clock)

    def unknown(self, planned: PlannedMessage, ago: float = SETTLED) -> Claim:
        """A send whose answer was lost `ago` seconds ago, marked unknown and reported."""

        async def plant() -> None:
            claim, _ = await self.log.claim(planned, NOW - ago)
            assert await self.log.mark_unknown(planned, claim, "SENS answered HTTP 503")
            await self.log.reported(planned.idempotency_key)

        asyncio.run(plant())
        return self.held(planned)

    def confirmed(self, planned: PlannedMessage) -> str:
        """A send SENS accepted now and the delivery confirmed: its request id, as SENS answered."""
        sent = self.sens.accept(planned.phone, planned.text, time.time(), Processing.PROCESSING)

        async def plant() -> None:
            await self.log.claim(planned, time.time())
            await self.log.confirm(planned, sent.request_id)

        asyncio.run(plant())
        return sent.message_id

    def held(self, planned: PlannedMessage) -> Claim:
        found = self.log.held(planned)
        assert found is not None
        return found

    def run(self, **settings: object) -> ReconcileResult:
        reconciler = Reconciler(
            messages=self.sens,
            sent_log=self.log,
            open_claims=MemoryOpenClaims(self.log.records),
            settings=replace(SETTINGS, **settings),  # type: ignore[arg-type]
            clock=self.clock,
        )
        return asyncio.run(reconciler.run())


def nonzero(result: ReconcileResult) -> dict[str, int]:
    return {name: n for name, n in result.counts().items() if n}


def test_one_match_in_the_window_resolves_it_as_sent() -> None:
    world, planned = World(), message()
    claim = world.unknown(planned)
    sent = world.sens.accept(planned.phone, planned.text, claim.at + 3)
    world.sens.accept("01099998888", TEXT, claim.at + 4)  # another customer's
    result = world.run()
    assert nonzero(result) == {"resolved_sent": 1}
    held = world.held(planned)
    assert (held.state, held.provider_id, held.message_id) == (
        ClaimState.SENT,
        sent.request_id,
        sent.message_id,
    )
    assert held.at == sent.request_time.timestamp()


@pytest.mark.parametrize(
    ("to", "content"),
    [
        ("+82 10-1234-5671", TEXT),  # SENS's recipient in another writing of the same number
        ("010-1234-5671", TEXT.replace("\n", "\r\n")),  # and the text with CR LF for LF
        ("821012345671", TEXT),
    ],
)
def test_the_same_number_and_text_written_otherwise_still_match(to: str, content: str) -> None:
    world, planned = World(), message()
    claim = world.unknown(planned)
    world.sens.accept(to, content, claim.at + 3)
    assert nonzero(world.run()) == {"resolved_sent": 1}


def test_a_message_listed_twice_is_one_match() -> None:
    world, planned = World(), message()
    claim = world.unknown(planned)
    world.sens.accept(planned.phone, planned.text, claim.at + 3)
    world.sens.repeat = True
    assert nonzero(world.run()) == {"resolved_sent": 1}


def test_none_found_inside_its_window_is_released_and_sent_once_by_the_next_run() -> None:
    world, planned = World(), message()
    claim = world.unknown(planned)
    world.sens.accept("01099998888", TEXT, claim.at + 3)  # another customer's, the same text
    result = world.run()
    assert nonzero(result) == {"released": 1} and result.released[0].booking_id == "bk-1"
    assert world.log.held(planned) is None
    assert asyncio.run(world.log.claim(planned, NOW))[1]  # the next run's claim: it sends


@pytest.mark.parametrize("until", [NOW - 1, NOW + 60])  # closed; closing before a run could send it
def test_none_found_out_of_its_window_expires(until: float) -> None:
    world, planned = World(), message(until=until)
    world.unknown(planned)
    result = world.run()
    assert nonzero(result) == {"expired": 1}
    held = world.held(planned)
    assert held.state is ClaimState.EXPIRED and "never accepted" in held.note


def test_none_found_with_resend_off_stays_unknown_for_a_person() -> None:
    world, planned = World(), message()
    world.unknown(planned)
    result = world.run(resend_not_found=False)
    assert (
        nonzero(result) == {"still_unknown": 1}
        and "resend_not_found is off" in result.still_unknown[0].reason
    )
    held = world.held(planned)
    assert held.state is ClaimState.UNKNOWN and "resend_not_found is off" in held.note
    world.run(resend_not_found=False)  # the note is written once, not on every pass
    assert world.held(planned).revision == held.revision


def test_several_matches_stay_unknown() -> None:
    world, planned = World(), message()
    claim = world.unknown(planned)
    for second in (3, 9):
        world.sens.accept(planned.phone, planned.text, claim.at + second)
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1} and "2 messages" in result.still_unknown[0].reason
    assert world.held(planned).state is ClaimState.UNKNOWN


@pytest.mark.parametrize(("to", "content"), [("", TEXT), ("01012345671", None)])
def test_a_listed_message_without_recipient_or_text_keeps_it_unknown(to: str, content: str | None) -> None:
    world, planned = World(), message()
    claim = world.unknown(planned)
    world.sens.accept(to, content, claim.at + 3)
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1} and "told apart" in result.still_unknown[0].reason


def test_a_list_that_fails_keeps_it_unknown_with_the_reason() -> None:
    world, planned = World(), message()
    world.unknown(planned)
    world.sens.fail = SentMessagesUnavailable("no answer from SENS within 5 s")
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1}
    assert "SentMessagesUnavailable" in result.still_unknown[0].reason
    assert "SentMessagesUnavailable" in world.held(planned).note


def test_a_window_past_what_sens_keeps_is_never_asked() -> None:
    world, planned = World(), message(until=NOW - DAY)
    world.unknown(planned, ago=91 * DAY)
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1} and "90 days" in result.still_unknown[0].reason
    assert world.sens.reads == []


def test_a_record_without_a_fingerprint_is_left_to_a_person() -> None:
    world = World()
    planned = PlannedMessage("reminder", "bk-old", "", "", "o" * 40)  # as written before #36
    world.unknown(planned)
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1} and "fingerprint" in result.still_unknown[0].reason


def test_an_unsettled_window_is_left_alone() -> None:
    world, planned = World(), message()
    world.unknown(planned, ago=SETTLED - 60)
    assert nonzero(world.run()) == {"waiting": 1}
    assert world.sens.reads == [] and world.held(planned).state is ClaimState.UNKNOWN


def test_a_handset_result_of_success_is_delivered() -> None:
    world, planned = World(), message()
    message_id = world.confirmed(planned)
    world.clock.now = time.time() + SETTINGS.handset_delay_seconds + 1
    world.sens.messages[0] = replace(
        world.sens.messages[0], status=Processing.COMPLETED, result=HandsetResult("0", True, "success", "SKT")
    )
    assert nonzero(world.run()) == {"delivered": 1}
    assert world.held(planned).state is ClaimState.DELIVERED
    assert world.sens.reads[-1] == f"message {message_id}"


def test_a_handset_failure_is_reported_once_with_the_phone_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    world, planned = World(), message()
    world.confirmed(planned)
    world.clock.now = time.time() + SETTINGS.handset_delay_seconds + 1
    world.sens.messages[0] = replace(
        world.sens.messages[0],
        to="+82 10-1234-5671",
        status=Processing.COMPLETED,
        result=HandsetResult("3018", False, "unreachable", "KT"),
    )
    result = world.run()
    (failure,) = result.handset_failed
    assert (failure.rule, failure.booking_id, failure.masked_phone) == ("reminder", "bk-1", "010****5671")
    assert (failure.status_code, failure.status_name) == ("3018", "fail")
    held = world.held(planned)
    assert held.state is ClaimState.FAILED
    assert nonzero(world.run()) == {}  # reported once
    assert "12345671" not in caplog.text and "1234-5671" not in caplog.text and TEXT not in caplog.text


def test_a_handset_result_not_in_yet_is_left_for_the_next_pass() -> None:
    world, planned = World(), message()
    world.confirmed(planned)
    assert nonzero(world.run()) == {"waiting": 1} and world.sens.reads == []  # too early to ask
    world.clock.now = time.time() + SETTINGS.handset_delay_seconds + 1
    assert nonzero(world.run()) == {"waiting": 1}  # PROCESSING
    assert world.held(planned).state is ClaimState.SENT


def test_a_handset_result_never_in_is_given_up() -> None:
    world, planned = World(), message()
    world.confirmed(planned)
    world.clock.now = time.time() + SETTINGS.handset_give_up_seconds + 1
    assert nonzero(world.run()) == {"handset_given_up": 1}
    assert world.held(planned).state is ClaimState.SENT
    assert nonzero(world.run()) == {}  # nobody waits for it any more


def test_the_time_budget_stops_the_pass_and_leaves_the_rest() -> None:
    world = World()
    planned = [message(n) for n in (1, 2, 3)]
    for n, one in enumerate(planned):
        world.unknown(one, ago=SETTLED + 10 - n)  # oldest first: planned[0]
    world.sens.slow_seconds = SETTINGS.budget_seconds  # one read spends the pass's time
    result = world.run()
    assert nonzero(result) == {"released": 1, "left": 2} and result.released[0].booking_id == "bk-1"
    assert [world.log.state(one) for one in planned] == [None, ClaimState.UNKNOWN, ClaimState.UNKNOWN]
    assert nonzero(world.run()) == {"released": 1, "left": 1}  # the next pass goes on


# --- a stale claim marked by a later run: the fingerprint is the claim's own -----------------------------


@pytest.mark.parametrize(
    "later",
    [
        # The customer corrected the name in Naver between the two runs (text differs).
        replace(message(), text="내일 3시 예약입니다\n감사합니다!"),
        # A new rules.yaml template deployed between the two runs (a deploy is when senders get killed).
        replace(message(), text="[예약 안내] 내일 3시 예약입니다"),
        # The customer changed the booking's phone number: SENS has the old one.
        replace(message(), phone="01098765432"),
    ],
    ids=["name-corrected", "template-deployed", "phone-changed"],
)
def test_a_stale_claim_marked_by_a_later_run_is_found_by_what_its_sender_sent(later: PlannedMessage) -> None:
    world, first = World(), message()
    claimed_at = NOW - SETTLED
    world.log.planted(first, "lambda:fn:dead", claimed_at)  # the sender claimed ...
    sent = world.sens.accept(first.phone, first.text, claimed_at + 1)  # ... SENS took it; the sender died
    # The next run plans the same key (same rule, same booking) and finds the stale claim: marks it unknown.
    core = Deliverer(
        transport=FakeTransport(),
        sent_log=world.log,
        lease_seconds=LEASE,
        dry_run=False,
        clock=lambda: claimed_at + LEASE + 1,
    )
    assert asyncio.run(core.deliver(later)).outcome is Outcome.UNKNOWN
    asyncio.run(world.log.reported(first.idempotency_key))
    result = world.run()
    assert nonzero(result) == {"resolved_sent": 1}, "released a send SENS has: the next run sends it twice"
    assert world.held(first).message_id == sent.message_id


# --- SENS's list is read well past the claim's window -----------------------------------------------------


@pytest.mark.parametrize(
    "offset",
    [
        # SENS stamps the request late (queued under the very load that made the send time out), or the
        # sender's process was paused between its claim and its write past the lease.
        LEASE + SETTINGS.margin_seconds + 5,
        # The claimer's clock runs 2 min 5 s ahead of SENS's (NTP lost on a worker node).
        -SETTINGS.margin_seconds - 5,
    ],
    ids=["stamped-late", "claimer-clock-ahead"],
)
def test_a_send_sens_lists_just_outside_the_claims_window_is_found(offset: float) -> None:
    world, planned = World(), message()
    claim = world.unknown(planned, ago=DAY / 24)
    world.sens.accept(planned.phone, planned.text, claim.at + offset)
    assert nonzero(world.run()) == {"resolved_sent": 1}


def test_a_range_longer_than_sens_lists_at_once_is_read_whole_in_pieces() -> None:
    world, planned = World(), message(until=NOW - DAY)
    claim = world.unknown(planned, ago=40 * DAY)
    world.sens.accept(planned.phone, planned.text, claim.at + 29.9 * DAY)  # a send SENS took very late
    assert nonzero(world.run()) == {"resolved_sent": 1}
    windows = [read.split()[1:] for read in world.sens.reads]
    spans = [datetime.fromisoformat(end) - datetime.fromisoformat(start) for start, end in windows]
    assert len(spans) == 2 and all(span.total_seconds() <= 30 * DAY for span in spans)
    assert datetime.fromisoformat(windows[0][0]).timestamp() == claim.at - SETTINGS.lookback_seconds
    assert datetime.fromisoformat(windows[-1][1]).timestamp() == claim.at + 30 * DAY


def test_a_range_read_in_part_concludes_nothing() -> None:
    world, planned = World(), message(until=NOW - DAY)
    world.unknown(planned, ago=40 * DAY)

    class SecondPieceFails(FakeSentMessages):
        async def in_window(self, start: datetime, end: datetime) -> list[SentMessage]:
            if self.reads:
                raise SentMessagesUnavailable("no answer from SENS within 5 s")
            return await super().in_window(start, end)

    world.sens = SecondPieceFails(world.clock)
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1} and "read whole" in result.still_unknown[0].reason


# --- a near miss: the same recipient, nearly the same text ------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "listed"),
    [
        # rules.yaml's `template: |` block keeps a trailing newline; a gateway trims it.
        ("김민수님, 커트 이용해 주셔서 감사합니다.\n", "김민수님, 커트 이용해 주셔서 감사합니다."),
        # A trailing space after a field; trimmed.
        ("김민수님, 커트 이용해 주셔서 감사합니다. ", "김민수님, 커트 이용해 주셔서 감사합니다."),
        # A no-break space from a copied template, listed back as a plain one (EUC-KR has no U+00A0).
        ("김민수님,\u00a0커트 이용해 주셔서 감사합니다.", "김민수님, 커트 이용해 주셔서 감사합니다."),
    ],
    ids=["trailing-newline", "trailing-space", "nbsp"],
)
def test_a_message_to_the_same_recipient_with_other_text_keeps_it_unknown(ours: str, listed: str) -> None:
    world, planned = World(), replace(message(), text=ours)
    claim = world.unknown(planned)
    world.sens.accept("010-1234-5671", listed, claim.at + 2)  # our customer, 2 s after the claim
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1}, "released: the customer gets it twice"
    assert result.still_unknown[0].reason == SAME_RECIPIENT
    assert world.held(planned).note == SAME_RECIPIENT


def test_a_record_without_a_recipient_fingerprint_is_never_taken_for_never_accepted() -> None:
    world, planned = World(), message()
    world.unknown(planned)
    fields, revision = world.log.records.items[planned.idempotency_key]
    # As written before it was.
    older = {name: value for name, value in fields.items() if name != "recipient_fingerprint"}
    world.log.records.items[planned.idempotency_key] = (older, revision)
    result = world.run()
    assert (
        nonzero(result) == {"still_unknown": 1} and "recipient fingerprint" in result.still_unknown[0].reason
    )
    claim = world.held(planned)
    world.sens.accept(planned.phone, planned.text, claim.at + 3)
    assert nonzero(world.run()) == {"resolved_sent": 1}  # what matches it is still found


# --- a listed message that cannot be encoded, and any other failure of one record ------------------------


def test_a_listed_message_that_cannot_be_encoded_is_untold_and_the_pass_goes_on() -> None:
    world = World()
    poisoned, other, elsewhere = message(1), message(2), message(3)
    for one in (poisoned, other, elsewhere):
        world.unknown(one)
    claimed = world.held(poisoned).at
    # JSON's "\ud83d" (an emoji cut in half) decodes to a lone surrogate, which sens_records passes through.
    world.sens.accept(poisoned.phone, "이벤트 안내 \ud83d", claimed + 5)  # to our first customer
    world.sens.accept("01055556666", "이벤트 안내 \ud83d", claimed + 6)  # to someone else
    world.sens.accept(other.phone, other.text, claimed + 7)
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1, "resolved_sent": 1, "released": 1}
    assert "told apart" in result.still_unknown[0].reason
    assert [s.booking_id for s in result.still_unknown + result.resolved_sent + result.released] == [
        "bk-1",
        "bk-2",
        "bk-3",
    ]


def test_any_failure_of_one_record_is_its_error_with_phones_masked_and_the_pass_goes_on() -> None:
    world = World()
    first, second = message(1), message(2)
    world.unknown(first, ago=SETTLED + 10)
    world.unknown(second)

    class FailsOnce(FakeSentMessages):
        async def in_window(self, start: datetime, end: datetime) -> list[SentMessage]:
            if not self.reads:
                self.reads.append("failed")
                raise RuntimeError("a bug near 010-1234-5671")
            return await super().in_window(start, end)

    world.sens = FailsOnce(world.clock)
    result = world.run()
    assert nonzero(result) == {"errors": 1, "released": 1}
    (error,) = result.errors
    assert error.booking_id == "bk-1" and "RuntimeError" in error.reason and "1234-5671" not in error.reason
    assert world.log.state(first) is ClaimState.UNKNOWN


def test_a_record_in_a_state_this_version_does_not_know_is_left_as_it_is() -> None:
    world, planned = World(), message()
    world.unknown(planned)
    fields, revision = world.log.records.items[planned.idempotency_key]
    world.log.records.items[planned.idempotency_key] = ({**fields, "state": "superseded"}, revision)
    result = world.run()
    assert nonzero(result) == {"still_unknown": 1} and "superseded" in result.still_unknown[0].reason
    assert world.log.records.items[planned.idempotency_key] == ({**fields, "state": "superseded"}, revision)
    assert world.sens.reads == []


# --- only the scheduled run's messages are released; the expiry says when the window closed --------------


@pytest.mark.parametrize("sent_by", [SentBy.EVENTS, None], ids=["events", "path-not-recorded"])
def test_a_not_found_message_no_run_replans_is_never_released(sent_by: SentBy | None) -> None:
    world, planned = World(), message(sent_by=sent_by)
    world.unknown(planned)
    result = world.run()  # resend_not_found on, as `make reconcile STORE=nats` runs by default
    assert nonzero(result) == {"still_unknown": 1}
    assert "not sent by the scheduled run" in result.still_unknown[0].reason
    world.clock.now = planned.send_until.timestamp() + 1 if planned.send_until else NOW
    result = world.run()
    assert nonzero(result) == {"expired": 1} and result.expired[0].reason.endswith("its window has closed")


def test_with_resend_off_it_stays_unknown_until_its_window_has_closed() -> None:
    world, planned = World(), message(until=NOW + 10 * 60)  # closing in 10 min
    world.unknown(planned)
    assert nonzero(world.run(resend_not_found=False)) == {"still_unknown": 1}
    world.clock.now = NOW + 10 * 60
    result = world.run(resend_not_found=False)
    assert nonzero(result) == {"expired": 1} and result.expired[0].reason.endswith("its window has closed")


def test_a_window_closing_too_soon_for_a_run_expires_saying_so() -> None:
    world, planned = World(), message(until=NOW + 10 * 60)
    world.unknown(planned)
    result = world.run()
    assert nonzero(result) == {"expired": 1}
    assert "closes in 10 min, too soon for a run to send it" in result.expired[0].reason
