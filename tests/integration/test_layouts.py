"""The same tree imports in all three layouts: checkout, Lambda task root, worker image."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.procs import REPO

IGNORE = shutil.ignore_patterns("__pycache__")


def python_in(root: Path, code: str) -> str:
    """Run code with root as the only import root, as the Lambda runtime does from its task root."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={"PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_checkout_layout() -> None:
    code = (
        "import main, naver_sms.entrypoints.worker.main as w; "
        "print(main.lambda_handler.__name__, w.main.__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["lambda_handler", "main"]


def test_lambda_task_root_layout(tmp_path: Path) -> None:
    """Contents of src/ at the root and config/ beside them, as the Dockerfile copies them."""
    shutil.copytree(REPO / "src", tmp_path, dirs_exist_ok=True, ignore=IGNORE)
    shutil.copytree(REPO / "config", tmp_path / "config")
    handled = python_in(
        tmp_path, "import json, main; print(json.dumps(main.lambda_handler({'action': 'x'}, None)))"
    )
    assert '"type": "InvalidEvent"' in handled.splitlines()[-1]
    config_dir = python_in(
        tmp_path, "from naver_sms.settings import Settings; print(Settings.load().config_dir)"
    )
    assert config_dir.strip() == str(tmp_path / "config")


def test_worker_image_layout(tmp_path: Path) -> None:
    """/app/src and /app/config, started as `python -m src` from /app with nothing on PYTHONPATH."""
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=IGNORE)
    shutil.copytree(REPO / "config", tmp_path / "config")
    env = {"NATS_URL": "nats://127.0.0.1:1", "DRAIN_SECONDS": "oops"}
    out = subprocess.run(
        [sys.executable, "-m", "src"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # It imported, found config/ beside src/, and stopped on the bad setting with exit code 2.
    assert out.returncode == 2, out.stderr
    assert "worker.drain_seconds (environment variable DRAIN_SECONDS)" in out.stdout
