"""Lambda figures under the real RIE on the host: init duration, warm smoke latency, 50 warm runs."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from scripts.invoke_samples import invoke
from tests.support.procs import REPO, free_port, port_open, wait_until
from tests.support.proctree import browser_processes, tree_rss

INIT = re.compile(r"INIT REPORT\(durationMs: ([\d.]+)")


@contextlib.contextmanager
def emulator(handler: str, env: dict[str, str]) -> Iterator[tuple[str, int, Path, Path]]:
    """Serve `handler` from a task root like the image's; yields (url, session id, tmp, log)."""
    root = Path(tempfile.mkdtemp(prefix="bench-root-"))
    shutil.copytree(REPO / "src", root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "config", root / "config")
    shutil.copy(REPO / "bench" / "naive_handler.py", root)
    runtime_tmp = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    log = root / "rie.log"
    port = free_port()
    rie = subprocess.run(
        ["bash", "-c", "source scripts/lib.sh && rie_binary"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    process = subprocess.Popen(
        [
            rie,
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{port}",
            str(REPO / ".venv/bin/python"),
            "-m",
            "awslambdaric",
            handler,
        ],
        cwd=root,
        env={**os.environ, **env, "TMPDIR": str(runtime_tmp), "PYTHONDONTWRITEBYTECODE": "1"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        wait_until(lambda: port_open(port), 30, "RIE")
        yield (
            f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations",
            process.pid,
            runtime_tmp,
            log,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(runtime_tmp, ignore_errors=True)


def init_ms(handler: str, env: dict[str, str], runs: int = 5) -> float:
    """Median of RIE's INIT REPORT over fresh runtimes (its per-invoke Init Duration is a placeholder)."""
    samples = []
    for _ in range(runs):
        with emulator(handler, env) as (url, _, _, log):
            invoke(url, {"action": "nonsense"})
            samples.append(float(INIT.findall(log.read_text())[-1]))
    return statistics.median(samples)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def warm_smoke(env: dict[str, str], count: int = 30) -> dict[str, float]:
    with emulator("main.lambda_handler", env) as (url, _, _, _):
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


def warm_runs(env: dict[str, str], count: int = 50) -> dict[str, float]:
    with emulator("main.lambda_handler", env) as (url, sid, runtime_tmp, _):
        invoke(url, {"action": "run"})
        first = tree_rss(sid)
        failures = sum(invoke(url, {"action": "run"}).get("status") != "ok" for _ in range(count))
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
