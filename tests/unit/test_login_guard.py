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
from naver_sms.application.errors import LoginDeferred, SentLogError
from naver_sms.application.login_guard import GuardState, LoginGuard
from naver_sms.domain.messages import PlannedMessage
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
    assert err.until == T0 + 700 + 1200 and err.kind == "LoginDeferred"
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
    assert decode(encode(state)) == state
    assert decode(encode(GuardState())) == GuardState()
    assert all(isinstance(value, str | float) for value in encode(state).values())
    key = guard_key(IDENTITY)
    assert key.startswith("login-guard#") and len(key) == len("login-guard#") + 16
    assert "shop-owner-id" not in key + repr(encode(state))


def test_the_slot_is_reserved_before_the_login_and_a_third_is_deferred() -> None:
    records, clock = MemoryRecords(), Clock()
    g = guard(records, clock)
    run(g.admit())
    # Reserved at admit: a login that crashes now (no failed, no succeeded) still counts.
    (fields, _) = records.items[g.key]
    assert decode(fields).logins == (T0,)
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
    assert decode(records.items[b.key][0]).failures == 0
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
    assert len(decode(records.items[a.key][0]).logins) == 2


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
    assert run(g.show())["next_login"] == "now"
    run(g.admit())
    run(g.failed("login rejected: 'Wrong ID or password'"))
    shown = run(g.show())
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
    run(log.claim(message, "test:1", T0))

    async def listed() -> list[dict[str, str | float]]:
        return [record async for record in log.unresolved()]

    assert [record["booking_id"] for record in run(listed())] == ["bk-1"]
