"""The change feed's cost (#37): the Lambda's scheduled run over 500 bookings, 10 of them changed since the
last run, with the feed's store wired against the same run without it, in one process.

Both runs go through the Lambda's composition root (lambda_image.scheduled_run) over the tests' in-memory
fakes of our ports (tests/support/fakes.py: the real sent-log and feed stores over a dict), with the
shipped rules and real sends to a fake transport that accepts at once: what is measured is the run's own
work (planning, the sent log's and the feed's reads and writes, deliveries), not a network. The state
both start from is the one a first run left: the feed's baseline of 496 bookings and the scheduled
messages it sent. Each round copies it, so every round is the same run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from naver_sms.application.scheduled_run import RunSummary, ScheduledRun
from naver_sms.bootstrap import lambda_image
from naver_sms.settings.rules import load_rules
from tests.support.bookings import KST, record
from tests.support.fakes import FakeBookingSource, FakeSeenBookings, FakeSentLog, FakeTransport
from tests.support.procs import REPO
from tests.support.roots import lambda_run, unit_settings

BOOKINGS = 500
PAGE_SIZE = 50  # the booking API's page (settings' naver.page_size)
STATUSES = ("confirmed", "completed", "cancelled", "pending")
# What the run with the feed must derive from the 10 changes, else the figure is not what it says.
EXPECTED_EVENTS = {"booking.created": 4, "booking.updated": 3, "booking.cancelled": 2, "booking.completed": 1}


def shop(now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the first run read (496 bookings of every status, from two days ago to eight days ahead) and
    what the second reads: 500 bookings, 10 of them changed since (4 new, 3 moved a day later, 2
    cancelled, 1 completed). The first 496 start a whole number of hours and a half from now, so none
    sits on the edge of a rule's window (whole hours from the start)."""
    before = [record(n, STATUSES[n % 4], timedelta(hours=(n % 240) - 48.5)) for n in range(1, BOOKINGS - 3)]
    confirmed = [r for r in before if r["status"] == "confirmed"]
    ahead = [r for r in confirmed if datetime.fromisoformat(r["start"]) > now + timedelta(hours=2)]
    behind = [r for r in confirmed if now - timedelta(hours=20) < datetime.fromisoformat(r["start"]) < now]
    moved = [{**r, "start": _later(r["start"])} for r in ahead[:3]]
    cancelled = [{**r, "status": "cancelled"} for r in ahead[3:5]]
    completed = [{**behind[0], "status": "completed"}]
    new = [record(n, "confirmed", timedelta(days=2, hours=n % 24)) for n in range(BOOKINGS - 3, BOOKINGS + 1)]
    changed = {r["id"]: r for r in moved + cancelled + completed}
    after = [changed.get(r["id"], r) for r in before] + new
    return before, after


def _later(start: str) -> str:
    return (datetime.fromisoformat(start) + timedelta(days=1)).isoformat()


def _copy(state: FakeSentLog) -> FakeSentLog:
    """A sent log holding what `state` holds (the feed's records among them), written through the store's
    own put, so each record gets a revision of the copy's."""
    copy = FakeSentLog()
    for key, (fields, _) in state.records.items.items():
        asyncio.run(copy.records.put(key, fields))
    return copy


def _outcome(result: dict[str, Any], feed: bool) -> None:
    if result["status"] != "ok":
        raise RuntimeError(f"a scheduled run did not end ok: {result}")
    if feed and result["feed"] != {"baseline": False, "events": EXPECTED_EVENTS, "recorded": 10}:
        raise RuntimeError(f"the change feed did not derive the 10 changes: {result['feed']}")
    if not feed and "feed" in result:
        raise RuntimeError(f"a run without the feed's store derived events: {result['feed']}")


def feed_runs(rounds: int = 41) -> dict[str, float]:
    """Median ms of the second run with the feed's store wired and without it (seen=None), `rounds` of
    each, alternating which goes first; a first pair, not counted, pays the first calls' costs."""
    settings = unit_settings()  # real sends allowed (to the fake transport), the shipped limits
    rules = load_rules(settings.rules_path)
    warm = lambda_image.Warm()  # one warm environment: the first run logs in, the rest reuse its session
    now = datetime.now(KST)
    before, after = shop(now)

    def run(sent_log: FakeSentLog, records: list[dict[str, Any]], feed: bool) -> ScheduledRun:
        return lambda_run(
            FakeTransport(),
            sent_log,
            rules=rules,
            settings=settings,
            bookings=FakeBookingSource(records, page_size=PAGE_SIZE),
            seen=FakeSeenBookings(sent_log.records) if feed else None,  # one table, as in DynamoDB
            warm=warm,
        )

    first = FakeSentLog()
    taken = asyncio.run(run(first, before, feed=True)(now)).as_result()
    if taken["status"] != "ok" or taken.get("feed", {}).get("recorded") != len(before):
        raise RuntimeError(f"the first run took no baseline: {taken}")

    async def once(scheduled: ScheduledRun) -> tuple[float, RunSummary]:
        started = time.perf_counter()  # the run alone: not its event loop's start, as run_once has it
        summary = await scheduled(now)
        return time.perf_counter() - started, summary

    def timed(feed: bool) -> tuple[float, int]:
        scheduled = run(_copy(first), after, feed)
        gc.collect()
        elapsed, summary = asyncio.run(once(scheduled))
        result = summary.as_result()
        _outcome(result, feed)
        return elapsed * 1000, result["sent"]

    timed(True), timed(False)
    with_feed: list[float] = []
    without: list[float] = []
    sent = {True: 0, False: 0}
    for n in range(rounds):
        for feed in (True, False) if n % 2 == 0 else (False, True):
            ms, sent[feed] = timed(feed)
            (with_feed if feed else without).append(ms)
    with_ms, without_ms = statistics.median(with_feed), statistics.median(without)
    return {
        "with_feed_ms": with_ms,
        "without_feed_ms": without_ms,
        "ratio": with_ms / without_ms,
        "rounds": rounds,
        "bookings": len(after),
        "sent_with_feed": sent[True],
        "sent_without_feed": sent[False],
    }


def feed_runs_apart(rounds: int = 41) -> dict[str, float]:
    """feed_runs in an interpreter of its own, as a Lambda's is: `make bench` measures this after the
    Lambda figures, whose servers and clients stay in the bench's process, and there the ratio read
    1.26-1.29x against 1.19-1.23x alone (likely the collections the runs trigger walking that heap: the
    run with the feed makes more objects, so triggers more)."""
    measured = subprocess.run(
        [sys.executable, "-m", "bench.feed_bench", str(rounds)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(measured.stdout))


if __name__ == "__main__":
    print(json.dumps(feed_runs(int(sys.argv[1]))))
