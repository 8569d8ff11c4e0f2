"""The login guard: its policy, and the guard over a record store shared by several environments."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from naver_sms.adapters.login_guard_store import StoreLoginGuard, decode, encode, guard_key
from naver_sms.adapters.sent_log import Fields, StoreSentLog
from naver_sms.application import login_guard as policy
from naver_sms.application.errors import LoginDeferred, SentLogError, error_type
from naver_sms.application.login_guard import GuardState, LoginGuard
from naver_sms.bootstrap.login_guard import naver_identity
from naver_sms.domain.messages import PlannedMessage
from naver_sms.settings import Settings
from tests.support.fakes import MemoryRecords

T = TypeVar("T")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
FIRST, LONGEST = 600.0, 21600.0
IDENTITY = "https://nid.naver.com/nidlogin.login shop-owner-id"


def run(step: Awaitable[T]) -> T:
    async def once() -> T:
        return await step

    return asyncio.run(once())


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def guard(records: MemoryRecords, clock: Clock, max_per_hour: int = 2) -> StoreLoginGuard:
    return StoreLoginGuard(
        records,
        IDENTITY,
        max_per_hour=max_per_hour,
        first_backoff=FIRST,
        longest_backoff=LONGEST,
        clock=clock,
    )


def stored(records: MemoryRecords, key: str) -> GuardState:
    """The state a record holds, read as of T0."""
    return decode(records.items[key][0], T0, FIRST, LONGEST)


def deferred(step: Awaitable[object]) -> LoginDeferred:
    with pytest.raises(LoginDeferred) as caught:
        run(step)
    return caught.value


# The policy


def test_backoff_doubles_from_the_first_up_to_the_longest() -> None:
    state, waits = GuardState(), []
    for _ in range(8):
        state = policy.failed(state, T0, "login rejected", FIRST, LONGEST)
        waits.append(state.blocked_until - T0)
    assert waits == [600, 1200, 2400, 4800, 9600, 19200, 21600, 21600]
    assert state.failures == 8
    assert policy.backoff(10_000, FIRST, LONGEST) == LONGEST  # no overflow however long the streak


def test_admit_defers_during_a_backoff_with_the_last_reason() -> None:
    state = policy.failed(GuardState(), T0, "login rejected: 'Wrong ID or password'", FIRST, LONGEST)
    state = policy.failed(state, T0 + 700, "login rejected: captcha shown", FIRST, LONGEST)
    with pytest.raises(LoginDeferred) as caught:
        policy.admit(state, T0 + 1000, 2)
    err = caught.value
    assert err.until == T0 + 700 + 1200 and error_type(err) == "LoginDeferred"
    text = str(err)
    assert "2026-11-24T09:31:40Z" in text  # when, in ISO UTC
    assert "(15 min from now)" in text  # and in minutes: 900 s left
    assert "2 failed login(s) in a row" in text and "captcha shown" in text  # why
    assert "make login-guard ACTION=clear" in text  # how to clear it
    assert policy.admit(state, T0 + 1900, 2).logins == (T0 + 1900,)  # the backoff is over


def test_at_most_max_per_hour_logins_and_a_slot_frees_an_hour_after_the_oldest() -> None:
    state = policy.admit(GuardState(), T0, 2)
    state = policy.admit(state, T0 + 600, 2)
    assert state.logins == (T0, T0 + 600)
    with pytest.raises(LoginDeferred) as caught:
        policy.admit(state, T0 + 1800, 2)
    assert caught.value.until == T0 + 3600
    assert "2 login(s) in the last hour already" in str(caught.value)
    assert "(30 min from now)" in str(caught.value)
    later = policy.admit(state, T0 + 3600, 2)
    assert later.logins == (T0 + 600, T0 + 3600)  # the hour-old login no longer counts, nor is kept


def test_a_lowered_limit_waits_until_enough_logins_age_out() -> None:
    state = GuardState(logins=(T0, T0 + 100, T0 + 200))
    with pytest.raises(LoginDeferred) as caught:
        policy.admit(state, T0 + 300, 2)
    assert caught.value.until == T0 + 100 + 3600


def test_succeeded_ends_the_streak_and_keeps_the_logins() -> None:
    state = policy.failed(GuardState(logins=(T0,)), T0, "rejected", FIRST, LONGEST)
    assert policy.succeeded(state) == GuardState(logins=(T0,))
    again = policy.failed(policy.succeeded(state), T0 + 10, "rejected", FIRST, LONGEST)
    assert again.blocked_until == T0 + 10 + FIRST  # the backoff starts over


def test_a_stored_reason_is_capped_and_masks_phone_numbers() -> None:
    state = policy.failed(GuardState(), T0, "refused for 010-1234-5678 " + "x" * 1000, FIRST, LONGEST)
    assert "010-1234-5678" not in state.last_reason and "010****5678" in state.last_reason
    assert len(state.last_reason) <= policy.REASON_CHARS


# The guard over a record store


def test_the_record_round_trips_and_holds_no_identity() -> None:
    state = GuardState(failures=3, blocked_until=T0 + 2400.5, last_reason="rejected", logins=(T0, T0 + 1))
    assert decode(encode(state), T0, FIRST, LONGEST) == state
    assert decode(encode(GuardState()), T0, FIRST, LONGEST) == GuardState()
    assert all(isinstance(value, str | float) for value in encode(state).values())
    key = guard_key(IDENTITY)
    assert key.startswith("login-guard#") and len(key) == len("login-guard#") + 16
    assert "shop-owner-id" not in key + repr(encode(state))


def test_the_slot_is_reserved_before_the_login_and_a_third_is_deferred() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    run(g.admit())
    # Reserved at admit: a login that crashes now (no failed, no succeeded) still counts.
    assert stored(records, g.key).logins == (T0,)
    clock.now += 60
    run(g.admit())
    run(g.succeeded())
    clock.now += 60
    err = deferred(g.admit())
    assert err.until == T0 + 3600 and "(58 min from now)" in str(err)
    clock.now = T0 + 3600
    run(g.admit())


def test_failures_back_off_across_guards_and_success_resets() -> None:
    records, clock = MemoryRecords(), Clock()
    a, b = guard(records, clock), guard(records, clock)  # two execution environments
    waits = []
    for _ in range(7):
        run(a.admit())
        run(a.failed("login rejected: 'Wrong ID or password'"))
        until = deferred(b.admit()).until
        waits.append(until - clock.now)
        clock.now = until + 3600  # past the backoff and the hour's logins
    assert waits == [600, 1200, 2400, 4800, 9600, 19200, 21600]
    run(b.admit())
    run(b.succeeded())
    assert stored(records, b.key).failures == 0
    run(a.failed("session refused at once"))
    assert deferred(b.admit()).until == clock.now + FIRST


def test_succeeded_without_a_streak_writes_nothing() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    run(g.admit())
    revision = records.items[g.key][1]
    run(g.succeeded())
    assert records.items[g.key][1] == revision


class Interleaving(MemoryRecords):
    """A store whose reads let other tasks run before the answer is used, as a network round trip does:
    two guards then read the same revision and race to write."""

    async def read(self, key: str) -> tuple[Fields, str] | None:
        held = await super().read(key)
        await asyncio.sleep(0)
        return held


def test_two_environments_racing_for_the_last_slot_one_wins() -> None:
    records, clock = Interleaving(), Clock()
    run(guard(records, clock).admit())  # one of the hour's two slots used
    clock.now += 60
    a, b = guard(records, clock), guard(records, clock)

    async def race() -> list[BaseException | None]:
        return list(await asyncio.gather(a.admit(), b.admit(), return_exceptions=True))

    outcomes = run(race())
    assert outcomes.count(None) == 1
    assert sum(isinstance(outcome, LoginDeferred) for outcome in outcomes) == 1
    assert len(stored(records, a.key).logins) == 2


def test_a_guard_satisfies_the_port() -> None:
    port: LoginGuard = guard(MemoryRecords(), Clock())
    assert port is not None


class Broken(MemoryRecords):
    async def read(self, key: str) -> tuple[Fields, str] | None:
        raise SentLogError("DynamoDB get_item on naver-sms-sent: timed out")


def test_a_store_failure_admits_no_login() -> None:
    g = guard(Broken(), Clock())
    for step in (g.admit(), g.failed("rejected")):
        with pytest.raises(SentLogError):
            run(step)


class AlwaysChanged(MemoryRecords):
    """Another writer wins every compare-and-set."""

    async def create(self, key: str, fields: Fields) -> str:
        self._stored(key, {})
        return await super().create(key, fields)

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        self._stored(key, {})
        return await super().replace(key, fields, revision)


def test_endless_contention_fails_closed() -> None:
    with pytest.raises(SentLogError, match="changed under each of"):
        run(guard(AlwaysChanged(), Clock()).admit())


def test_show_and_clear_for_operators() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    first = run(g.show())
    assert (first["record"], first["next_login"], first["deferred"]) == ("none yet", "now", None)
    run(g.admit())
    run(g.failed("login rejected: 'Wrong ID or password'"))
    shown = run(g.show())
    assert shown["record"] == "as stored"
    assert shown["failures_in_a_row"] == 1
    assert shown["blocked_until"] == shown["next_login"] == "2026-11-24T09:10:00Z"
    assert shown["last_reason"] == "login rejected: 'Wrong ID or password'"
    assert shown["logins_last_hour"] == ["2026-11-24T09:00:00Z"]
    assert "make login-guard ACTION=clear" in shown["deferred"]
    assert run(g.clear()) == shown  # what it cleared
    assert run(g.show())["next_login"] == "now"
    run(g.admit())


def test_the_guard_record_is_not_listed_as_a_claim() -> None:
    records, clock = MemoryRecords(), Clock()
    log = StoreSentLog(records, "test:1")
    run(guard(records, clock).admit())
    message = PlannedMessage("reminder", "bk-1", "01012345678", "text", "1" * 40)
    run(log.claim(message, T0))

    async def listed() -> list[dict[str, str | float]]:
        return [record async for record in log.unresolved()]

    assert [record["booking_id"] for record in run(listed())] == ["bk-1"]


# A corrupted or foreign record, and other clocks


GOOD: Fields = {"kind": "login-guard", "failures": 0.0, "blocked_until": 0.0}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"failures": "x"}, "failures"),
        ({"failures": "1e400"}, "failures"),  # infinite: no int
        ({"failures": -3.0}, "failures"),
        ({"failures": 1e300}, "failures"),
        ({"blocked_until": float("nan")}, "blocked_until"),
        ({"blocked_until": float("inf")}, "blocked_until"),
        ({"blocked_until": -1.0}, "blocked_until"),
        ({"blocked_until": "soon"}, "blocked_until"),
        ({"kind": "something-else"}, "kind"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else None,
)
def test_an_unreadable_record_backs_off_once_for_the_first_length_then_admits(
    fields: Fields, field: str
) -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    records.items[g.key] = ({**GOOD, **fields}, "foreign")
    for check in (g.show(), g.clear()):  # an operator sees it and can clear it
        assert run(check)["last_reason"] == f"the guard's record could not be read: {field}"
    records.items[g.key] = ({**GOOD, **fields}, "foreign")
    err = deferred(g.admit())  # fail closed, but bounded
    assert err.until == T0 + FIRST
    assert f"(last: the guard's record could not be read: {field})" in str(err)
    clock.now += FIRST - 1  # the repair was written: the backoff runs from the first read on
    assert deferred(g.admit()).until == T0 + FIRST
    clock.now = T0 + FIRST
    run(g.admit())
    run(g.succeeded())
    assert stored(records, g.key).failures == 0


def test_unreadable_login_stamps_count_as_logins_made_now() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    records.items[g.key] = ({**GOOD, "logins": f"abc,nan,-5,{T0 - 60:.3f}"}, "foreign")
    # Three unreadable stamps count as three logins now, and the readable one stays: the hour is full.
    assert deferred(g.admit()).until == T0 + 3600
    assert stored(records, g.key).logins == (T0 - 60, T0, T0, T0)
    clock.now = T0 + 3600
    run(g.admit())


def test_a_clock_running_fast_elsewhere_blocks_logins_for_a_bounded_time() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    ahead = T0 + 30 * 86400  # another environment's clock a month fast
    records.items[g.key] = ({**GOOD, "logins": f"{ahead:.3f},{ahead:.3f},{1e300!r}"}, "foreign")
    assert deferred(g.admit()).until == T0 + 3600  # made now: an hour, not a month
    clock.now = T0 + 3600
    run(g.admit())
    records.items[g.key] = ({**GOOD, "failures": 2.0, "blocked_until": ahead}, "foreign")
    assert deferred(g.admit()).until == clock.now + LONGEST
    clock.now += LONGEST
    run(g.admit())


def test_login_stamps_a_little_ahead_are_kept_as_they_are() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    records.items[g.key] = ({**GOOD, "logins": f"{T0 + 200:.3f}", "blocked_until": T0 + LONGEST}, "1")
    assert stored(records, g.key) == GuardState(blocked_until=T0 + LONGEST, logins=(T0 + 200,))
    assert run(g.show())["record"] == "as stored"
    assert records.items[g.key][1] == "1"  # nothing to repair, nothing written


@pytest.mark.parametrize(
    ("epoch", "shown"),
    [
        (float("inf"), "9999-12-31T23:59:59Z"),
        (1e300, "9999-12-31T23:59:59Z"),
        (float("-inf"), "1970-01-01T00:00:00Z"),
        (-1e300, "1970-01-01T00:00:00Z"),
        (float("nan"), "1970-01-01T00:00:00Z"),
        (T0, "2026-11-24T09:00:00Z"),
    ],
)
def test_iso_utc_prints_any_time(epoch: float, shown: str) -> None:
    assert policy.iso_utc(epoch) == shown


def test_clear_writes_the_empty_state_even_when_the_old_cannot_be_described() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    run(g.admit())
    run(g.failed("login rejected"))

    def broken(*_: object) -> dict[str, object]:
        raise OverflowError("timestamp out of range for platform time_t")

    g._describe = broken  # type: ignore[method-assign]
    before = run(g.clear())
    assert before["record"].startswith("could not be read or described: OverflowError: timestamp")
    assert stored(records, g.key) == GuardState()
    run(g.admit())


def test_a_deferral_with_nothing_to_repair_writes_nothing() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    run(g.admit())
    run(g.failed("login rejected"))
    revision = records.items[g.key][1]
    deferred(g.admit())
    assert records.items[g.key][1] == revision


# Whose record it is


def test_the_identity_is_the_page_and_the_resolved_account_however_written() -> None:
    def identity(url: str, username: str) -> str:
        return naver_identity(Settings.load(environ={"NAVER_LOGIN_URL": url, "NAVER_USERNAME": username}))

    url = "https://nid.naver.com/nidlogin.login"
    wide = "".join(chr(ord(char) + 0xFEE0) for char in "SHOP")  # full-width, as an IME may type it
    same = {
        identity(url, "shop-Owner"),
        identity("HTTP://NID.Naver.COM/nidlogin.login/", "shop-Owner"),
        identity(url, "  SHOP-OWNER "),
        identity(url, f"{wide}-owner"),
    }
    assert same == {"nid.naver.com/nidlogin.login shop-owner"}
    assert identity(url, "other") != identity(url, "shop-owner")
    assert identity("https://nid.naver.com/other", "shop-owner") != identity(url, "shop-owner")
    local = {identity(f"http://127.0.0.1:{port}/login", "owner") for port in (8001, 8002)}
    assert local == {"127.0.0.1:8001/login owner", "127.0.0.1:8002/login owner"}
