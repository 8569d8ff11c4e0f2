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

from naver_sms.application.errors import SentMessagesUnavailable
from naver_sms.application.ports import Claim, ClaimState, HandsetResult, Processing
from naver_sms.application.reconcile import Reconciler, ReconcileSettings
from naver_sms.application.reconcile_result import ReconcileResult
from naver_sms.domain.messages import PlannedMessage
from tests.support.fakes import FakeClock, FakeSentLog, FakeSentMessages, MemoryOpenClaims

NOW = float(int(time.time()))  # confirmations are stamped with the wall clock: the tests' clock is near it
LEASE = 120.0
DAY = 86_400.0
SETTINGS = ReconcileSettings(lease_seconds=LEASE)
SETTLED = LEASE + SETTINGS.margin_seconds + SETTINGS.settle_seconds + 1  # claimed this long ago: settled
TEXT = "내일 3시 예약입니다\n감사합니다"


def message(n: int = 1, until: float = NOW + DAY) -> PlannedMessage:
    return PlannedMessage(
        "reminder",
        f"bk-{n}",
        f"0101234567{n}",
        TEXT,
        f"{n:040d}",
        send_until=datetime.fromtimestamp(until, UTC),
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
    world.sens.accept(planned.phone, "another text", claim.at + 3)
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
    assert (
        nonzero(result) == {"still_unknown": 1}
        and "without recipient or text" in result.still_unknown[0].reason
    )


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
