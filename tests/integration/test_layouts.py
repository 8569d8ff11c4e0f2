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


def stops_on_a_bad_setting(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    """It imported, found config/, and stopped on the bad setting with exit code 2."""
    out = subprocess.run(
        command,
        cwd=cwd,
        env={**env, "NATS_URL": "nats://127.0.0.1:1", "DRAIN_SECONDS": "oops"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "worker.drain_seconds (environment variable DRAIN_SECONDS)" in out.stdout


def test_the_package_installs_into_a_fresh_venv_with_its_command(tmp_path: Path) -> None:
    """`pip install .` (the worker's dependencies from their lock first, so the versions are the image's)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    lock = REPO / "docker" / "requirements-worker.txt"
    subprocess.run([*pip, "--require-hashes", "-r", str(lock)], check=True, timeout=300)
    subprocess.run([*pip, "--no-deps", str(REPO)], check=True, timeout=300)
    command = venv / "bin" / "naver-sms-worker"
    assert command.exists()
    # From anywhere, with the config folder named; and from a checkout, `python -m src` (the shim).
    stops_on_a_bad_setting([str(command)], tmp_path, {"APP_CONFIG_DIR": str(REPO / "config")})
    stops_on_a_bad_setting([str(venv / "bin" / "python"), "-m", "src"], REPO, {})
