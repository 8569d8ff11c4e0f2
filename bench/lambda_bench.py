"""Lambda figures under the real RIE on the host: init duration, warm smoke latency, 50 warm runs, and
scheduled runs with and without a login."""

from __future__ import annotations

import contextlib
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from naver_sms.adapters.sent_log import GUARD_PREFIX
from tests.support.emulator import Emulator, serve
from tests.support.lambda_invoke import invoke
from tests.support.moto import SENT_LOG_TABLE
from tests.support.procs import REPO
from tests.support.proctree import browser_processes, tree_rss

INIT = re.compile(r"INIT REPORT\(durationMs: ([\d.]+)")


@contextlib.contextmanager
def emulator(handler: str, env: dict[str, str]) -> Iterator[Emulator]:
    """`make run-local`'s emulator serving `handler`; bench/ is importable for the naive baseline."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(
            {**env, "PYTHONPATH": str(REPO / "bench"), "PYTHONDONTWRITEBYTECODE": "1"},
            Path(tmp) / "rie.log",
            handler,
        ) as served,
    ):
        yield served


def init_ms(handler: str, env: dict[str, str], runs: int = 5) -> float:
    """Median of RIE's INIT REPORT over fresh runtimes (its per-invoke Init Duration is a placeholder)."""
    samples = []
    for _ in range(runs):
        with emulator(handler, env) as served:
            invoke(served.url, {"action": "nonsense"})
            samples.append(float(INIT.findall(served.log.read_text())[-1]))
    return statistics.median(samples)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def warm_smoke(env: dict[str, str], count: int = 30) -> dict[str, float]:
    with emulator("main.lambda_handler", env) as served:
        url = served.url
        invoke(url, {"smoke": True})
        latencies, failures = [], 0
        for _ in range(count):
            started = time.monotonic()
            failures += invoke(url, {"smoke": True}).get("status") != "ok"
            latencies.append(time.monotonic() - started)
    return {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "failures": failures}


def raw_browser_start(env: dict[str, str], count: int = 10) -> float:
    """Baseline: Selenium starting and quitting Chromium with the same flags, no handler around it."""
    from naver_sms.adapters.browser import BrowserConfig, probe_browser

    config = BrowserConfig(env["CHROME_BIN"], env["CHROMEDRIVER_BIN"], 30)
    probe_browser(config)
    samples = []
    for _ in range(count):
        started = time.monotonic()
        probe_browser(config)
        samples.append(time.monotonic() - started)
    return percentile(samples, 0.5)


def forget_logins(table: str = SENT_LOG_TABLE) -> None:
    """Empty the login guard's record (what `make login-guard ACTION=clear` does): the figures that log in
    every run measure a login, and the guard (2 logins an hour, for the shop's account) would refuse all
    but the first two; boto3 already points at the bench's moto server."""
    import boto3

    client = boto3.client("dynamodb")
    for page in client.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="idempotency_key"
    ):
        for item in page["Items"]:
            if item["idempotency_key"]["S"].startswith(GUARD_PREFIX):
                client.delete_item(TableName=table, Key={"idempotency_key": item["idempotency_key"]})


def run_after(forget: Callable[[], None], url: str) -> dict[str, Any]:
    forget()
    return invoke(url, RUN)


def warm_runs(
    env: dict[str, str], count: int = 50, forget: Callable[[], None] = forget_logins
) -> dict[str, float]:
    with emulator("main.lambda_handler", env) as served:
        url, sid, runtime_tmp = served.url, served.sid, served.tmp
        run_after(forget, url)
        first = tree_rss(sid)
        failures = sum(run_after(forget, url).get("status") != "ok" for _ in range(count))
        last = tree_rss(sid)
        leftovers = list(runtime_tmp.iterdir())
        leftover_bytes = sum(p.stat().st_size for d in leftovers for p in d.rglob("*") if p.is_file())
        return {
            "failures": failures,
            "browser_processes": len(browser_processes(sid)),
            "temp_dirs": len(leftovers),
            "temp_bytes": leftover_bytes,
            "rss_first_mb": first / 1e6,
            "rss_last_mb": last / 1e6,
        }


RUN = {"action": "run"}


def _timed_runs(url: str, count: int, forget: Callable[[], None] = forget_logins) -> list[float]:
    latencies = []
    for _ in range(count):
        forget()  # not timed
        started = time.monotonic()
        result = invoke(url, RUN)
        latencies.append(time.monotonic() - started)
        if not isinstance(result, dict) or result.get("status") != "ok":
            raise RuntimeError(f"a scheduled run failed: {result}")
    return latencies


def session_runs(env: dict[str, str], logins: Callable[[], int], count: int = 20) -> dict[str, float]:
    """Scheduled runs in one warm runtime each: a login every run (NAVER_SESSION_MAX_AGE_SECONDS=0, the
    baseline), and the default, where only the first of `count` runs logs in."""
    with emulator("main.lambda_handler", {**env, "NAVER_SESSION_MAX_AGE_SECONDS": "0"}) as served:
        run_after(forget_logins, served.url)  # the runtime's first run pays the imports
        with_login = _timed_runs(served.url, 10)
    with emulator("main.lambda_handler", env) as served:
        before = logins()
        warm = _timed_runs(served.url, count)
        made = logins() - before
    return {
        "login_p50": percentile(with_login, 0.5),
        "reused_p50": percentile(warm[1:], 0.5),  # the first of them logged in
        "logins": made,
        "runs": count,
    }
