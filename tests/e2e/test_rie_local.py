"""The handler under the real Lambda RIE on the host (`make run-local`), invoked like `make smoke`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.support.bookings import DRY_RUN_RESULT, mixed_bookings
from tests.support.emulator import Emulator, serve
from tests.support.fake_naver import FakeNaver
from tests.support.fake_sens import FakeSens
from tests.support.lambda_invoke import EVENTS, invoke, mismatch, smoke_summary
from tests.support.moto import create_sent_log_table
from tests.support.procs import REPO, free_port
from tests.support.proctree import browser_processes, tree_rss, zombies


@pytest.fixture
def bare_emulator(browser_env: dict[str, str], tmp_path: Path) -> Iterator[Emulator]:
    """The repo's settings only, as `make run-local` on a fresh clone."""
    with serve(browser_env, tmp_path / "rie.log") as emulator:
        yield emulator


@pytest.fixture
def emulator(
    browser_env: dict[str, str], aws: str, fake_naver: FakeNaver, fake_sens: FakeSens, tmp_path: Path
) -> Iterator[Emulator]:
    """Wired to the fake Naver, the fake SENS and moto's DynamoDB, with settings that allow real sends."""
    create_sent_log_table()
    fake_naver.state.bookings = mixed_bookings()
    env = {
        "AWS_ENDPOINT_URL": aws,
        "SMS_DRY_RUN": "false",
        **browser_env,
        **fake_naver.env(),
        **fake_sens.env(),
    }
    with serve(env, tmp_path / "rie.log") as emulator:
        yield emulator


def test_samples_pass_under_the_host_emulator(bare_emulator: Emulator) -> None:
    out = subprocess.run(
        ["bash", "scripts/smoke.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "IMAGE": "lambda", "SMOKE_URL": bare_emulator.url},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert smoke_summary() in out.stderr


def test_two_run_locals_serve_side_by_side(browser_env: dict[str, str], tmp_path: Path) -> None:
    """Each emulator's Runtime API on a port of its own (the RIE's default is one fixed 9001), so a second
    `make run-local RIE_PORT=…` (or the suite's) serves beside the first."""
    sample = json.loads((EVENTS / "smoke.json").read_text())
    with (
        serve(browser_env, tmp_path / "first.log") as first,
        serve(browser_env, tmp_path / "second.log") as second,
    ):
        answers = {emulator.url: invoke(emulator.url, sample["event"]) for emulator in (first, second)}
    problems = {url: mismatch(sample, body) for url, body in answers.items()}
    assert problems == {first.url: None, second.url: None}


def test_a_taken_rie_port_fails_at_once_naming_port_and_knob() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        out = subprocess.run(
            ["bash", "scripts/run-local.sh"],
            cwd=REPO,
            env={**os.environ, "RIE_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        elapsed = time.monotonic() - started
    assert out.returncode == 1
    assert f"127.0.0.1:{port} is already in use (RIE_PORT={port})" in out.stderr
    assert elapsed < 5, f"took {elapsed:.1f} s"


DRY_RUN = {"action": "run", "dry_run": True}


def test_run_event_under_the_emulator(emulator: Emulator) -> None:
    body = invoke(emulator.url, DRY_RUN)
    assert body == DRY_RUN_RESULT
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {"dry_run": False}}
    assert invoke(emulator.url, scheduled)["sent"] == 5


def test_50_warm_invokes_leave_nothing_behind(emulator: Emulator) -> None:
    invoke(emulator.url, DRY_RUN)
    first_rss = tree_rss(emulator.sid)
    results = [invoke(emulator.url, DRY_RUN) for _ in range(50)]
    last_rss = tree_rss(emulator.sid)
    assert all(r["status"] == "ok" for r in results), [r for r in results if r["status"] != "ok"][:1]
    assert browser_processes(emulator.sid) == []
    assert zombies(emulator.sid) == 0
    assert list(emulator.tmp.iterdir()) == []
    growth_mb = (last_rss - first_rss) / 1e6
    print(json.dumps({"first_rss_mb": round(first_rss / 1e6, 1), "last_rss_mb": round(last_rss / 1e6, 1)}))
    assert growth_mb < 40, f"RSS grew {growth_mb:.1f} MB over 50 invokes"


def test_run_local_reads_the_env_file_and_the_shells_aws_credentials(
    browser_env: dict[str, str], aws: str, tmp_path: Path
) -> None:
    """The docker --env-file syntax, as `make run-rie` reads it; AWS credentials come from the shell
    (here moto's test keys)."""
    boto3.client("secretsmanager").create_secret(
        Name="naver/login", SecretString=json.dumps({"username": "owner", "password": "pw"})
    )
    env_file = tmp_path / "local.env"
    env_file.write_text(
        "# local settings\n"
        "\n"
        "NAVER_USERNAME=secretsmanager:naver/login#username\n"
        "NAVER_PASSWORD=secretsmanager:naver/login#password\n"
        f"AWS_ENDPOINT_URL={aws}\n"
        "LOG_LEVEL=DEBUG\n"
    )
    with serve(
        {**browser_env, "ENV_FILE": str(env_file), "LOG_LEVEL": "WARNING"}, tmp_path / "rie.log"
    ) as emulator:
        result = invoke(emulator.url, {"smoke": True})
    assert result["checks"] == {"settings": "ok", "secrets": "ok", "browser": "ok"}


def test_run_local_names_a_bad_env_file_line(tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text("GOOD=1\nexport SENS_SECRET_KEY = s3cr3t-value-never-shown\n")
    out = subprocess.run(
        ["bash", "scripts/run-local.sh"],
        cwd=REPO,
        # A free port: the default one may be serving (`make run-local` in another terminal), and a taken
        # port is refused before the env file is read.
        env={**os.environ, "ENV_FILE": str(env_file), "RIE_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1
    assert (
        f"{env_file}:2: expected KEY=VALUE, got a line whose key is 'export SENS_SECRET_KEY '" in out.stderr
    )
    assert "s3cr3t" not in out.stderr


def env_file_cases(tmp_path: Path) -> dict[str, Path]:
    example = (REPO / ".env.example").read_bytes()
    odd = (
        "\ufeffFIRST=after a byte order mark\n"
        "   INDENTED=leading white space goes\n"
        'QUOTED="kept with its quotes"\n'
        "SINGLE='so are these'\n"
        "INLINE=value # and this is part of it\n"
        "TRAILING=spaces stay   \n"
        "EMPTY=\n"
        "EQUALS=a=b=c\n"
        "\t# an indented comment\n"
        "BARE_FROM_SHELL\n"
        "UNICODE=김철수 😀\n"
    ).encode()
    cases = {
        "example": example,
        "example-crlf": example.replace(b"\n", b"\r\n"),
        "odd-crlf": odd.replace(b"\n", b"\r\n"),
    }
    paths = {}
    for name, data in cases.items():
        paths[name] = tmp_path / f"{name}.env"
        paths[name].write_bytes(data)
    return paths


def file_keys(path: Path) -> set[str]:
    lines = path.read_bytes().decode("utf-8-sig").splitlines()
    return {
        line.split("=", 1)[0].strip() for line in lines if "=" in line and not line.strip().startswith("#")
    }


def read_env(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, timeout=120, check=False)


def as_dict(out: bytes) -> dict[str, str]:
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


@pytest.mark.docker
def test_the_projects_env_file_reading_matches_docker_run_env_file(
    images: dict[str, str], tmp_path: Path
) -> None:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "BARE_FROM_SHELL": "from the shell",
    }
    for name, path in env_file_cases(tmp_path).items():
        command = ["docker", "run", "--rm", "--network", "none", "--env-file", str(path)]
        command += ["--env", "BARE_FROM_SHELL", "--entrypoint", "env", images["worker"], "-0"]
        docker_env = read_env(command, base)
        assert docker_env.returncode == 0, docker_env.stderr
        ours = read_env(
            ["bash", "-c", 'source scripts/lib.sh && export_env_file "$1" && env -0', "_", str(path)], base
        )
        assert ours.returncode == 0, ours.stderr
        keys = file_keys(path)
        theirs, mine = as_dict(docker_env.stdout), as_dict(ours.stdout)
        assert {k: mine.get(k) for k in keys} == {k: theirs.get(k) for k in keys}, name
        assert mine.get("BARE_FROM_SHELL") == theirs.get("BARE_FROM_SHELL") == "from the shell"
        if name == "odd-crlf":
            assert (
                mine["INLINE"] == "value # and this is part of it"
                and mine["QUOTED"] == '"kept with its quotes"'
            )
            assert not any(value.endswith("\r") for value in mine.values())


@pytest.mark.parametrize(
    "line", ["export SENS_SECRET_KEY=s3cr3t-never-shown", "SENS_SECRET_KEY =s3cr3t-never-shown"]
)
def test_a_line_docker_refuses_is_refused_too_without_its_value(
    images: dict[str, str], tmp_path: Path, line: str
) -> None:
    path = tmp_path / "bad.env"
    path.write_text(f"APP_ENV=local\r\n{line}\r\n")
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    docker_env = read_env(["docker", "run", "--rm", "--env-file", str(path), images["worker"], "true"], base)
    ours = read_env(["bash", "-c", 'source scripts/lib.sh && export_env_file "$1"', "_", str(path)], base)
    assert docker_env.returncode != 0 and b"contains whitespaces" in docker_env.stderr
    assert ours.returncode == 1 and b"bad.env:2: expected KEY=VALUE" in ours.stderr
    assert b"s3cr3t" not in ours.stderr
