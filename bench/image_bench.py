"""Image figures: size, largest layer, cold build time and source-only rebuild time, via scripts/build.sh."""

from __future__ import annotations

import os
import subprocess
import time

from tests.support.procs import REPO

NAMES = {"lambda": "naver-sms-automation", "worker": "naver-sms-worker"}
MARKER = REPO / "src" / "naver_sms" / "_bench_source_change.py"


def build(image: str, **extra: str) -> float:
    started = time.monotonic()
    subprocess.run(
        ["bash", "scripts/build.sh"],
        cwd=REPO,
        check=True,
        capture_output=True,
        env={**os.environ, "IMAGE": image, **extra},
    )
    return time.monotonic() - started


def size_mb(image: str) -> float:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", f"{NAMES[image]}:latest"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout) / 1e6


def largest_layer(image: str) -> str:
    out = subprocess.run(
        [
            "docker",
            "history",
            "--human=false",
            "--format",
            "{{.Size}}\t{{.CreatedBy}}",
            f"{NAMES[image]}:latest",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    size, cmd = max(
        (line.split("\t", 1) for line in out.stdout.splitlines()), key=lambda layer: int(layer[0])
    )
    return f"{int(size) / 1e6:.0f} MB {cmd.strip()[:50] or '(base image)'}"


def measure(image: str) -> dict[str, object]:
    cold = build(image, NO_CACHE="1")
    MARKER.write_text(f"# benchmark: a source-only change ({time.time()})\n")
    try:
        source_only = build(image)
    finally:
        MARKER.unlink()
        build(image)  # leave :latest built from the committed tree
    return {
        "size_mb": size_mb(image),
        "cold_build_s": cold,
        "source_only_rebuild_s": source_only,
        "largest_layers": largest_layer(image),
    }
