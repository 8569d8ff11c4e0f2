"""Adversarial review of #36 (reconciler) and #35 (speed): each test is a finding and FAILS on the code as
reviewed. Real fakes of our ports (FakeSentLog's real lifecycle over MemoryRecords, FakeSentMessages),
the Lambda root's real Deliverer; no mocks."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from naver_sms.application.delivery import Outcome
from naver_sms.application.ports import ClaimState
from naver_sms.application.reconcile import Reconciler, ReconcileSettings
from naver_sms.application.reconcile_result import ReconcileResult
from naver_sms.bootstrap import lambda_image
from naver_sms.domain.messages import PlannedMessage
from naver_sms.domain.template import without_strftime
from naver_sms.settings.rules import load_rules
from tests.support.fakes import FakeClock, FakeSentLog, FakeSentMessages, FakeTransport, MemoryOpenClaims
from tests.support.roots import unit_settings

SETTINGS = unit_settings()
LEASE = SETTINGS.sent_log.claim_lease_seconds
RULES = load_rules(SETTINGS.rules_path)
NOW = float(int(time.time()))
DAY = 86_400.0
RECONCILE = ReconcileSettings(lease_seconds=LEASE)
KEY = "f" * 40
PHONE = "01012345678"


def planned(text: str, phone: str = PHONE) -> PlannedMessage:
    # A rule whose window is open another day: a not-found unknown is released for the next run.
    until = datetime.fromtimestamp(NOW + 5 * DAY, UTC)
    return PlannedMessage("thank_you", "bk-1", phone, text, KEY, send_until=until)


def reconcile(log: FakeSentLog, sens: FakeSentMessages, clock: FakeClock) -> ReconcileResult:
    reconciler = Reconciler(
        messages=sens,
        sent_log=log,
        open_claims=MemoryOpenClaims(log.records),
        settings=RECONCILE,
        clock=clock,
    )
    return asyncio.run(reconciler.run())


def lambda_deliver(log: FakeSentLog, message: PlannedMessage, at: float) -> Outcome:
    """The Lambda root's real Deliverer, its clock at `at`."""
    notifier = lambda_image.notifier(
        SETTINGS,
        dry_run=False,
        claimer="unit",
        transport=FakeTransport(),
        sent_log=log,
        rules=RULES,
        clock=lambda: at,
    )
    return asyncio.run(notifier.deliverer.deliver(message)).outcome


# --- 1. critical: the stale claim's fingerprint is replaced by the marking run's message -------------


@pytest.mark.parametrize(
    "later",
    [
        # The customer corrected the name in Naver between the two runs (text differs).
        planned("김민수님, 커트 이용해 주셔서 감사합니다."),
        # A new rules.yaml template deployed between the two runs (a deploy is when senders get killed).
        planned("김민수 고객님, 커트 이용해 주셔서 감사합니다!"),
        # The customer changed the booking's phone number: SENS has the old one.
        planned("김민수님, 커트 이용해 주셔서 감사합니다", phone="01098765432"),
    ],
    ids=["name-corrected", "template-deployed", "phone-changed"],
)
def test_a_stale_claim_marked_by_a_later_run_keeps_the_fingerprint_of_what_was_sent(
    later: PlannedMessage,
) -> None:
    first = planned("김민수님, 커트 이용해 주셔서 감사합니다")
    log, clock = FakeSentLog(), FakeClock(NOW)
    sens = FakeSentMessages(clock)
    claimed_at = NOW - LEASE - DAY / 24
    log.planted(first, "lambda:fn:dead", claimed_at)  # the sender claimed ...
    sens.accept(first.phone, first.text, claimed_at + 1)  # ... SENS accepted the SMS, the sender was killed
    # The next run plans the same key (same rule, same booking) and finds the stale claim: marks it unknown.
    assert lambda_deliver(log, later, claimed_at + LEASE + 1) is Outcome.UNKNOWN
    asyncio.run(log.reported(KEY))

    clock.now = NOW  # the window has long settled
    result = reconcile(log, sens, clock)
    # What SENS lists is the very send this claim stood for: it went out.
    assert result.released == [], "released a send SENS has: the next run sends it a second time"
    assert log.state(first) is ClaimState.SENT


# --- 2. major: SENS's request time just outside [claim - 2 min, claim + lease + 2 min] -----------------


@pytest.mark.parametrize(
    "offset",
    [
        # SENS stamps the request late (queued under the very load that made the send time out), or the
        # sender's process was paused between its claim and its write past the lease.
        LEASE + RECONCILE.margin_seconds + 5,
        # The claimer's clock runs 2 min 5 s ahead of SENS's (NTP lost on a worker node).
        -RECONCILE.margin_seconds - 5,
    ],
    ids=["stamped-late", "claimer-clock-ahead"],
)
def test_a_send_sens_lists_just_outside_the_window_is_not_released(offset: float) -> None:
    message = planned("김민수님, 커트 이용해 주셔서 감사합니다")
    log, clock = FakeSentLog(), FakeClock(NOW)
    sens = FakeSentMessages(clock)
    claimed_at = NOW - DAY / 24

    async def lost_answer() -> None:
        claim, _ = await log.claim(message, claimed_at)
        assert await log.mark_unknown(message, claim, "no answer from SENS within 10 s")
        await log.reported(KEY)

    asyncio.run(lost_answer())
    sens.accept(message.phone, message.text, claimed_at + offset)
    result = reconcile(log, sens, clock)
    # The fingerprint is salted with the key: a match anywhere after (or shortly before) the claim is this
    # key's send, never another's. Not looking there releases a message that went out.
    assert result.released == [], "released a send SENS lists a few seconds past the window"


# --- 3. major: a near miss (same recipient, text differing only in what SENS may normalise) ------------


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
def test_a_message_to_the_same_recipient_with_nearly_the_same_text_is_not_released(
    ours: str, listed: str
) -> None:
    message = planned(ours)
    log, clock = FakeSentLog(), FakeClock(NOW)
    sens = FakeSentMessages(clock)
    claimed_at = NOW - DAY / 24

    async def lost_answer() -> None:
        claim, _ = await log.claim(message, claimed_at)
        assert await log.mark_unknown(message, claim, "SENS answered HTTP 503")
        await log.reported(KEY)

    asyncio.run(lost_answer())
    sens.accept("010-1234-5678", listed, claimed_at + 2)  # our customer, 2 s after the claim
    result = reconcile(log, sens, clock)
    assert result.released == [], (
        "SENS lists a message to this very recipient 2 s after the claim; it was released as 'never "
        "accepted', so the customer gets it twice"
    )


# --- 4. major: one listed message with a lone surrogate fails every pass --------------------------------


def test_a_listed_message_that_is_not_encodable_does_not_fail_the_whole_pass() -> None:
    log, clock = FakeSentLog(), FakeClock(NOW)
    sens = FakeSentMessages(clock)
    claimed_at = NOW - DAY / 24
    poisoned, other = (
        planned("안녕하세요"),
        replace(planned("다른 메시지"), idempotency_key="e" * 40, booking_id="bk-2"),
    )

    async def lost_answers() -> None:
        for n, message in enumerate((poisoned, other)):
            claim, _ = await log.claim(message, claimed_at + n * 3600)
            assert await log.mark_unknown(message, claim, "SENS answered HTTP 503")
            await log.reported(message.idempotency_key)

    asyncio.run(lost_answers())
    # Someone else's message on the same SENS service, its emoji cut in half: JSON's "\ud83d" decodes to a
    # lone surrogate, which sens_records passes through as content.
    sens.accept("01055556666", "이벤트 안내 \ud83d", claimed_at + 5)
    sens.accept(other.phone, other.text, claimed_at + 3600 + 2)
    result = reconcile(log, sens, clock)  # raises UnicodeEncodeError out of Reconciler.run
    assert len(result.resolved_sent) == 1  # the other record is still reconciled


# --- 5. minor: #35's template rewrite keeps what strftime drops ----------------------------------------


def test_the_rewritten_template_renders_as_strftime_did_with_a_nul_in_the_spec() -> None:
    template = "{start:%m/%d\x00 %H:%M} 예약"  # loads: _parse_template renders the original, which is fine
    start = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert without_strftime(template).format(start=start) == template.format(start=start)


# --- housekeeping: the helper's own sanity (passes) ------------------------------------------------------


def test_the_deliverer_helper_sends_once() -> None:
    log = FakeSentLog()
    assert lambda_deliver(log, planned("x"), NOW) is Outcome.SENT
    assert dataclasses.is_dataclass(RECONCILE)


# --- 6. major (deploy): a state this version does not know makes every read of the key raise ------------


def test_a_record_in_a_state_this_version_does_not_know_is_read_as_one_to_look_at() -> None:
    """#36 added expired/delivered/failed; the version before it raises ValueError reading them
    (`PYTHONPATH=<e9f826f>/src python -c "from naver_sms.adapters.sent_log import decode;
    decode({'state': 'delivered', 'at': 1.0}, '1')"`), so a rollback makes every run that plans a
    delivered key fail. This version is no more tolerant of the next state added: claims.py reads an
    unknown state as UNKNOWN, the sent log's decode does not."""
    log = FakeSentLog()
    message = planned("x")
    log.records.items[KEY] = ({"state": "superseded", "owner": "future", "at": NOW}, "1")
    assert lambda_deliver(log, message, NOW + 10) is Outcome.STILL_UNKNOWN  # never sent, never raises
