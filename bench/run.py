"""`make bench`: measure what users feel, each beside a baseline from the same run, and write
docs/benchmarks.md (table) and docs/benchmarks.json (the same figures for tools).

Exits non-zero only when something could not be measured; a missed goal is reported in the table.
Usage: python -m bench.run [--skip-images] [--skip-test-suite]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from bench import feed_bench, image_bench, lambda_bench, worker_bench
from tests.support.bookings import mixed_bookings, record
from tests.support.fake_naver import FakeNaver
from tests.support.moto import AWS_TEST_ENV, create_sent_log_table, moto_server
from tests.support.procs import REPO

DOCS = REPO / "docs"


def q(value: float, unit: str) -> dict[str, float | str]:
    """A measured number with its unit, as docs/benchmarks.json stores it for comparison across commits."""
    return {"value": round(float(value), 3), "unit": unit}


@dataclass
class Figure:
    name: str
    value: str
    goal: str
    baseline: str
    ratio: str
    met: bool | None  # None: a figure for information, with no goal of its own
    command: str
    numbers: dict[str, dict[str, float | str]] = field(default_factory=dict)


def _verdict(met: bool | None, yes: str, no: str, neither: str) -> str:
    return neither if met is None else yes if met else no


def machine() -> str:
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return f"{platform.system()} {platform.machine()}, {cores} cores, Python {platform.python_version()}"


def browser_env() -> dict[str, str]:
    return {"CHROME_BIN": "/usr/bin/chromium", "CHROMEDRIVER_BIN": "/usr/bin/chromedriver"}


def lambda_figures() -> list[Figure]:
    env = browser_env()
    lazy = lambda_bench.init_ms("main.lambda_handler", env)
    naive = lambda_bench.init_ms("naive_handler.lambda_handler", env)
    smoke = lambda_bench.warm_smoke(env)
    raw = lambda_bench.raw_browser_start(env)
    with FakeNaver() as naver, moto_server() as (aws, _):
        naver.state.bookings = mixed_bookings()
        os.environ.update(AWS_ENDPOINT_URL=aws, **AWS_TEST_ENV)
        create_sent_log_table()
        # A login every run: each starts and quits a browser, which is what the leak figures are about.
        runs = lambda_bench.warm_runs({**env, **naver.env(), "NAVER_SESSION_MAX_AGE_SECONDS": "0"}, 50)
        # One page of 50, as the client asks (settings' page_size); the fake's default pages by two.
        naver.state.bookings, naver.state.page_size = fifty_bookings(), 50
        session = lambda_bench.session_runs({**env, **naver.env()}, lambda: naver.state.logins)
    cmd = "make bench"
    growth = runs["rss_last_mb"] - runs["rss_first_mb"]
    return [
        Figure(
            "Lambda init (RIE INIT REPORT, median of 5)",
            f"{lazy:.0f} ms",
            "≤ 100 ms and ≤ 0.6x naive",
            f"naive module-level imports: {naive:.0f} ms",
            f"{lazy / naive:.2f}",
            lazy <= 100 and lazy <= 0.6 * naive,
            cmd,
            {"init": q(lazy, "ms"), "naive_init": q(naive, "ms"), "ratio": q(lazy / naive, "x")},
        ),
        Figure(
            "Warm smoke invoke p50 / p95 (30 invokes)",
            f"{smoke['p50']:.2f} s / {smoke['p95']:.2f} s",
            "p50 ≤ 1.0 s, no failed invoke",
            f"raw Selenium start+quit p50: {raw:.2f} s",
            f"{smoke['p50'] / raw:.2f}",
            smoke["p50"] <= 1.0 and smoke["failures"] == 0,
            cmd,
            {"p50": q(smoke["p50"], "s"), "p95": q(smoke["p95"], "s"), "raw_browser_p50": q(raw, "s")},
        ),
        Figure(
            "50 warm run invokes (fake Naver, dry run, a login each): failures",
            str(runs["failures"]),
            "0",
            "—",
            "—",
            runs["failures"] == 0,
            cmd,
            {"failures": q(runs["failures"], "invokes")},
        ),
        Figure(
            "… leftover browser/driver processes",
            str(runs["browser_processes"]),
            "0",
            "naive never-quit handler here: 6-9 (issue #7)",
            "—",
            runs["browser_processes"] == 0,
            cmd,
            {"processes": q(runs["browser_processes"], "processes")},
        ),
        Figure(
            "… leftover temp dirs / bytes",
            f"{runs['temp_dirs']} / {runs['temp_bytes']}",
            "0 / 0",
            "quit-only handler: ~2 MB per invoke (issue #7)",
            "—",
            runs["temp_dirs"] == 0,
            cmd,
            {"temp_dirs": q(runs["temp_dirs"], "dirs"), "temp_bytes": q(runs["temp_bytes"], "B")},
        ),
        Figure(
            "… runtime tree RSS first → last",
            f"{runs['rss_first_mb']:.1f} → {runs['rss_last_mb']:.1f} MB",
            "flat (< 20 MB growth)",
            "—",
            f"{growth:+.1f} MB",
            growth < 20,
            cmd,
            {"rss_first": q(runs["rss_first_mb"], "MB"), "rss_last": q(runs["rss_last_mb"], "MB")},
        ),
        Figure(
            "Warm scheduled run, session reused p50 (50 bookings, dry run)",
            f"{session['reused_p50'] * 1000:.0f} ms",
            "≤ 0.1x a run with a login",
            f"scheduled run with a login p50: {session['login_p50'] * 1000:.0f} ms",
            f"{session['reused_p50'] / session['login_p50']:.2f}",
            session["reused_p50"] <= 0.1 * session["login_p50"],
            cmd,
            {"reused_p50": q(session["reused_p50"], "s"), "login_p50": q(session["login_p50"], "s")},
        ),
        Figure(
            f"Logins per {session['runs']:.0f} warm scheduled runs",
            f"{session['logins']:.0f}",
            "1",
            "a login every run before #28: 20",
            "—",
            session["logins"] == 1,
            cmd,
            {"logins": q(session["logins"], "logins"), "runs": q(session["runs"], "runs")},
        ),
    ]


def fifty_bookings() -> list[dict[str, object]]:
    """Fifty bookings of every status around now: what one business's booking API returns in a day."""
    statuses = ("confirmed", "completed", "cancelled", "pending")
    return [record(n, statuses[n % 4], timedelta(hours=(n % 48) - 24)) for n in range(1, 51)]


def feed_figures() -> list[Figure]:
    feed = feed_bench.feed_runs_apart()
    return [
        Figure(
            f"Scheduled run with the change feed ({feed['bookings']:.0f} bookings, 10 changed since the last "
            f"run; in-memory fakes, real sends to a fake transport; median of {feed['rounds']:.0f})",
            f"{feed['with_feed_ms']:.1f} ms ({feed['sent_with_feed']:.0f} SMS)",
            "≤ 1.3x the run without the feed",
            f"the same run without the feed's store: {feed['without_feed_ms']:.1f} ms "
            f"({feed['sent_without_feed']:.0f} SMS)",
            f"{feed['ratio']:.2f}",
            feed["ratio"] <= 1.3,
            "make bench",
            {
                "with_feed": q(feed["with_feed_ms"], "ms"),
                "without_feed": q(feed["without_feed_ms"], "ms"),
                "ratio": q(feed["ratio"], "x"),
                "sent_with_feed": q(feed["sent_with_feed"], "SMS"),
                "sent_without_feed": q(feed["sent_without_feed"], "SMS"),
            },
        )
    ]


def worker_figures() -> list[Figure]:
    tp = worker_bench.throughput()
    every_line = worker_bench.throughput(log_level="DEBUG", rounds=1)  # no goal: one round shows it
    real = worker_bench.real_send_throughput()
    stop = worker_bench.sigterm_under_load()
    return [
        Figure(
            f"Worker throughput (dry run, {tp['events']:,.0f} events a drain, median of"
            f" {tp['rounds']:.0f} rounds, each side's fastest of 3 drains)",
            f"{tp['worker_eps']:.0f} events/s",
            "≥ 0.8x raw in every round",
            f"raw nats-py pull+ack: {tp['raw_eps']:.0f} msg/s (lowest round: {tp['lowest_ratio']:.2f})",
            f"{tp['ratio']:.2f}",
            tp["lowest_ratio"] >= 0.8,
            "make bench",
            {
                "worker": q(tp["worker_eps"], "events/s"),
                "raw": q(tp["raw_eps"], "msg/s"),
                "ratio": q(tp["ratio"], "x"),
                "lowest_ratio": q(tp["lowest_ratio"], "x"),
            },
        ),
        Figure(
            '… the same with a "would send" line for every event (LOG_LEVEL=DEBUG)',
            f"{every_line['worker_eps']:.0f} events/s",
            "none: shows what a line per event costs (the default logs 100 a second)",
            f"raw nats-py pull+ack: {every_line['raw_eps']:.0f} msg/s",
            f"{every_line['ratio']:.2f}",
            None,
            "make bench",
            {
                "worker": q(every_line["worker_eps"], "events/s"),
                "raw": q(every_line["raw_eps"], "msg/s"),
                "ratio": q(every_line["ratio"], "x"),
            },
        ),
        Figure(
            "Worker throughput (real sends, fake SENS answering in 20 ms;"
            f" {real['per_drain']:.0f} events a drain, each side's faster of 2 drains)",
            f"{real['worker_eps']:.0f} events/s ({real['sent']:.0f} SMS)",
            "≥ 0.95x the bare transport's sends (the floor here), every event sent once",
            f"bare SENS transport, 16 at a time: {real['bare_eps']:.0f} sends/s; "
            f"ideal 16 / 0.02 s: {real['ceiling_eps']:.0f}/s ({real['ratio']:.2f}x)",
            f"{real['bare_ratio']:.2f}",
            real["bare_ratio"] >= 0.95 and real["sent"] == real["events"],
            "make bench",
            {
                "worker": q(real["worker_eps"], "events/s"),
                "bare": q(real["bare_eps"], "sends/s"),
                "ceiling": q(real["ceiling_eps"], "events/s"),
                "ratio": q(real["bare_ratio"], "x"),
                "ideal_ratio": q(real["ratio"], "x"),
            },
        ),
        Figure(
            "Worker SIGTERM → exit under load",
            f"{stop['seconds']:.2f} s (exit {stop['exit_code']})",
            "< 10 s, exit 0, nothing lost",
            f"processed {stop['processed']} of {stop['published']} across restart",
            "—",
            stop["seconds"] < 10 and stop["exit_code"] == 0 and stop["processed"] >= stop["published"],
            "make bench",
            {
                "stop": q(stop["seconds"], "s"),
                "processed": q(stop["processed"], "events"),
                "published": q(stop["published"], "events"),
            },
        ),
    ]


def image_figures() -> list[Figure]:
    figures = []
    for image, budget in (("lambda", 1500), ("worker", 150)):
        m = image_bench.measure(image)
        figures += [
            Figure(
                f"{image} image size (offline stand-in base)",
                f"{m['size_mb']:.0f} MB",
                f"≤ {budget} MB",
                f"largest: {m['largest_layers']}",
                "—",
                float(str(m["size_mb"])) <= budget,
                "make bench",
                {"size": q(float(str(m["size_mb"])), "MB"), "budget": q(budget, "MB")},
            ),
            Figure(
                f"{image} cold build / source-only rebuild",
                f"{m['cold_build_s']:.1f} s / {m['source_only_rebuild_s']:.1f} s",
                "rebuild ≤ 5 s",
                "cold build (no cache)",
                f"{float(str(m['source_only_rebuild_s'])) / float(str(m['cold_build_s'])):.2f}",
                float(str(m["source_only_rebuild_s"])) <= 5,
                "make bench",
                {
                    "cold_build": q(float(str(m["cold_build_s"])), "s"),
                    "rebuild": q(float(str(m["source_only_rebuild_s"])), "s"),
                },
            ),
        ]
    return figures


def test_suite_figure() -> Figure:
    started = time.monotonic()
    done = subprocess.run(["make", "test"], cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        # pytest's short summary closes its output: which tests failed, and how.
        print("\n".join((done.stdout + done.stderr).splitlines()[-40:]), file=sys.stderr, flush=True)
    return Figure(
        "make test wall time (warm venv)",
        f"{elapsed:.0f} s",
        "CI ≤ 20 min",
        "—",
        "—",
        done.returncode == 0 and elapsed < 1200,
        "make test",
        {"wall": q(elapsed, "s")},
    )


def write(figures: list[Figure]) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = "\n".join(
        "| "
        + " | ".join(
            cell.replace("|", "\\|")  # a Docker layer's command may hold one
            for cell in (
                f.name,
                f.value,
                f.goal,
                f.baseline,
                f.ratio,
                _verdict(f.met, "met", "**missed**", "—"),
            )
        )
        + f" | `{f.command}` |"
        for f in figures
    )
    (DOCS / "benchmarks.md").write_text(
        "# Benchmarks\n\nGenerated by `make bench` — do not edit by hand. "
        f"Measured {when} on {machine()}.\nEach ratio is against a baseline measured in the same run.\n\n"
        "| figure | value | goal | baseline | ratio | verdict | command |\n|---|---|---|---|---|---|---|\n"
        f"{rows}\n"
    )
    (DOCS / "benchmarks.json").write_text(
        json.dumps(
            {"measured_at": when, "machine": machine(), "figures": [asdict(f) for f in figures]}, indent=2
        )
        + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-images", action="store_true", help="no Docker engine here")
    parser.add_argument("--skip-test-suite", action="store_true")
    args = parser.parse_args()
    groups: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("the Lambda handler under the RIE", lambda_figures),
        ("the scheduled run with and without the change feed, in process", feed_figures),
        ("the worker against nats-server", worker_figures),
    ]
    if not args.skip_images:
        groups.append(("both images: size and build times", image_figures))
    if not args.skip_test_suite:
        groups.append(("the whole test suite", lambda: [test_suite_figure()]))
    figures = []
    for what, measure in groups:
        print(f"==> measuring {what} …", flush=True)  # each group takes from seconds to minutes
        for f in measure():
            verdict = _verdict(f.met, "ok    ", "MISSED", "info  ")
            print(f"{verdict} {f.name}: {f.value} (goal {f.goal}; {f.baseline})", flush=True)
            figures.append(f)
    write(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
