"""`make up PROFILE=product`: the whole product from a booking in Naver to an SMS (#37). The fake Naver,
the Lambda image under its emulator invoked on a schedule (tests/support/schedule.py, as EventBridge
would), NATS, the worker image and the fake SENS, each a container of the stack. A booking new since the
last run gets its confirmation from the worker, one inside the reminder window its reminder from the
Lambda, a cancellation its message: each exactly once, across repeated runs, a worker restart, and a
Lambda killed (kill -9) after it published its events and before it recorded what it saw.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.test_compose import compose, compose_env, log_records, running_stack
from tests.support.bookings import record
from tests.support.procs import free_port, wait_until

pytestmark = pytest.mark.docker
SCHEDULE_SECONDS = 4
SENS_HOLD_SECONDS = 6  # under the SMS timeout (8 s): held sends still succeed, after the kill below


# One instant the test's bookings start from: the same booking written twice must be the same booking
# (another start would be a move, a booking.updated).
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def booking(n: int, status: str = "confirmed", starts_in: timedelta = timedelta(days=3)) -> dict[str, Any]:
    return record(n, status, starts_in, now=NOW)


SOON = timedelta(hours=20)  # inside the reminder's window (from 24 h before the start)


@pytest.fixture(scope="module")
def product(images: dict[str, str]) -> Iterator[dict[str, str]]:
    env = {
        **compose_env(free_port()),
        "PROFILE": "product",
        "NAVER_PORT": str(free_port()),
        "SENS_PORT": str(free_port()),
        "SCHEDULE_SECONDS": str(SCHEDULE_SECONDS),
        # What the shop had when the feed was switched on: its first run records it and derives nothing.
        "FAKE_BOOKINGS": json.dumps([booking(1, starts_in=SOON), booking(4)]),
    }
    with running_stack(env):
        yield env


def runs(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every scheduled invocation so far: its result, or {"error": ...} when it was not answered."""
    records = log_records(env, "schedule", "--profile", "product")
    return [
        r.get("result", {"error": r.get("error")}) for r in records if r.get("message", "").startswith("run")
    ]


def wait_runs(env: dict[str, str], more: int, what: str) -> list[dict[str, Any]]:
    """Until `more` runs have finished after the ones finished now; returns those."""
    before = len(runs(env))
    wait_until(lambda: len(runs(env)) >= before + more, 180, what, interval=1)
    return runs(env)[before:]


def sens(env: dict[str, str]) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{env['SENS_PORT']}/", timeout=5) as answer:
        return dict(json.load(answer))


def sms(env: dict[str, str]) -> Counter[str]:
    """SMS sent, by recipient and kind (the shipped templates' words)."""
    kinds = {"잊지": "reminder", "확정": "confirmation", "취소": "cancellation", "감사": "thank_you"}
    sent: Counter[str] = Counter()
    for line in sens(env)["sent"]:
        to, text = line.split("|", 1)
        sent[f"{to} {next((k for word, k in kinds.items() if word in text), text)}"] += 1
    return sent


def healthy(env: dict[str, str], *services: str) -> bool:
    out = compose(env, "--profile", "product", "ps", "--format", "json", *services)
    states = [json.loads(line) for line in out.splitlines() if line.strip()]
    return len(states) == len(services) and all(s["Health"] == "healthy" for s in states)


def put(env: dict[str, str], port: str, path: str, body: object) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{env[port]}{path}", data=json.dumps(body).encode(), method="PUT"
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def test_each_rule_reaches_its_customer_once_through_both_images(product: dict[str, str]) -> None:
    env = product
    wait_until(lambda: len(runs(env)) >= 1, 180, "the first scheduled run", interval=1)
    first = runs(env)[0]
    assert first["status"] == "ok" and first["feed"]["baseline"] is True, first
    assert sms(env) == Counter({"01055550001 reminder": 1})

    # A new booking and a cancellation since: the Lambda publishes both, the worker sends both.
    put(
        env,
        "NAVER_PORT",
        "/control/bookings",
        [booking(1, starts_in=SOON), booking(4, "cancelled"), booking(2)],
    )
    expected = Counter(
        {"01055550001 reminder": 1, "01055550002 confirmation": 1, "01055550004 cancellation": 1}
    )
    wait_until(lambda: sms(env).total() >= expected.total(), 120, "the worker's two SMS", interval=1)
    assert sms(env) == expected, runs(env)[-3:]
    published = [r for r in runs(env) if r.get("feed", {}).get("published")]
    assert [r["feed"]["published"] for r in published] == [2]

    # The worker restarts; runs go on: nothing is sent again.
    compose(env, "--profile", "product", "restart", "worker-product")
    later = wait_runs(env, 3, "three more runs")
    assert all(r["status"] == "ok" and r["feed"]["published"] == 0 for r in later), later
    assert sms(env) == expected

    # The Lambda is killed mid-run: after it published bk-5's and bk-6's events (the worker is sending
    # their confirmations) and while its own send, bk-6's reminder, is still at SENS. It never recorded
    # what it saw, so the next run derives both events again and publishes them again: the stream keeps
    # one copy of each (Nats-Msg-Id), and the reminder it claimed is never sent a second time.
    put(env, "SENS_PORT", "/control/delay", {"seconds": SENS_HOLD_SECONDS})
    bookings = [
        booking(1, starts_in=SOON),
        booking(4, "cancelled"),
        booking(2),
        booking(5),
        booking(6, starts_in=SOON),
    ]
    put(env, "NAVER_PORT", "/control/bookings", bookings)
    wait_until(
        lambda: sens(env)["in_flight"] >= 3, 60, "two confirmations and a reminder at SENS", interval=0.2
    )
    compose(env, "--profile", "product", "kill", "-s", "SIGKILL", "lambda-product")
    put(env, "SENS_PORT", "/control/delay", {"seconds": 0})
    # A new environment, as Lambda's next invocation gets: the schedule waits while it comes up (a login
    # against a Naver not back yet would start the login guard's backoff), and the fake Naver, in the
    # function's network, joins the new one.
    compose(env, "--profile", "product", "stop", "schedule")
    compose(env, "--profile", "product", "start", "lambda-product")
    compose(env, "--profile", "product", "restart", "fake-naver")
    wait_until(lambda: healthy(env, "lambda-product", "fake-naver"), 60, "the function and the fake Naver")
    put(env, "NAVER_PORT", "/control/bookings", bookings)  # the restarted fake's, as before
    compose(env, "--profile", "product", "start", "schedule")
    after = wait_runs(env, 2, "two runs after the restart")
    again = next(r for r in after if "feed" in r)
    assert again["feed"]["events"]["booking.created"] == 2 and again["feed"]["published"] == 2, again
    assert any("error" in r for r in runs(env)), "the killed run was answered"
    wait_until(lambda: sens(env)["in_flight"] == 0, 30, "SENS idle")
    wait_runs(env, 2, "two runs more")
    assert sms(env) == expected + Counter(
        {"01055550005 confirmation": 1, "01055550006 confirmation": 1, "01055550006 reminder": 1}
    )
