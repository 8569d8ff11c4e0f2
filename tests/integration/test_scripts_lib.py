"""scripts/lib.sh and its helpers (scripts/lib/), called the way the scripts call them."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.procs import REPO


def ecr_region(registry: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", 'source scripts/lib.sh && ecr_region "$1"', "_", registry],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("registry", "region"),
    [
        ("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com", "ap-northeast-2"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/images", "us-east-1"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1"),
    ],
)
def test_ecr_registries_give_their_region(registry: str, region: str) -> None:
    found = ecr_region(registry)
    assert (found.returncode, found.stdout) == (0, region)


@pytest.mark.parametrize(
    "registry",
    [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.attacker.example",
        "123456789012.dkr.ecr.us-east-1.amazonaws.comattacker.example",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com:443",
        "x123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com@attacker.example",
        "attacker.example/123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "127.0.0.1:5000",
    ],
)
def test_anything_else_is_not_ecr(registry: str) -> None:
    found = ecr_region(registry)
    assert (found.returncode, found.stdout) == (1, "")


def test_env_files_read_like_docker_and_the_shell_wins(tmp_path: Path) -> None:
    env_file = tmp_path / "local.env"
    env_file.write_text('# comment\n\nFROM_FILE="quoted stays"\nSET_IN_SHELL=file\nBARE\nURL=http://a?b=c\n')
    out = subprocess.run(
        [
            "bash",
            "-c",
            'source scripts/lib.sh && export_env_file "$1" && '
            'printf "%s|%s|%s|%s" "$FROM_FILE" "$SET_IN_SHELL" "${BARE-unset}" "$URL"',
            "_",
            str(env_file),
        ],
        cwd=REPO,
        env={**os.environ, "SET_IN_SHELL": "shell"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == '"quoted stays"|shell|unset|http://a?b=c'


def read_pin(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text(text)
    return subprocess.run(
        [
            "bash",
            "-c",
            'source scripts/lib.sh && read_cft_pin && printf "%s|%s" "$CFT_VERSION" "$CFT_BROWSER_SHA256"',
        ],
        cwd=REPO,
        env={**os.environ, "CFT_PIN": str(pin)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_chrome_pin_is_parsed_not_sourced(tmp_path: Path) -> None:
    sha = "a" * 64
    good = read_pin(
        tmp_path,
        f"# comment\nCFT_VERSION=150.0.7871.100\nCFT_BROWSER=chrome\n"
        f"CFT_BROWSER_SHA256={sha}\nCFT_DRIVER_SHA256=\n",
    )
    assert (good.returncode, good.stdout) == (0, f"150.0.7871.100|{sha}")
    planted = tmp_path / "ran"
    hostile = read_pin(tmp_path, f"CFT_VERSION=1.2.3.4\ntouch {planted}\n")
    assert hostile.returncode == 1 and "unknown line 'touch" in hostile.stderr and not planted.exists()
    for line, message in (
        ("CFT_VERSION=$(id)", "is not a Chrome version"),
        ("CFT_BROWSER_SHA256=abc", "CFT_BROWSER_SHA256 is not a sha256"),
    ):
        bad = read_pin(tmp_path, line + "\n")
        assert bad.returncode == 1 and message in bad.stderr
    missing = subprocess.run(
        ["bash", "-c", "source scripts/lib.sh && read_cft_pin"],
        cwd=REPO,
        env={**os.environ, "CFT_PIN": str(tmp_path / "absent.pin")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and f"CFT_PIN={tmp_path / 'absent.pin'} does not exist" in missing.stderr


def test_every_knob_default_is_set_in_one_place() -> None:
    knobs_file = REPO / "scripts" / "lib" / "knobs.sh"
    knobs = re.findall(r'^: "\$\{([A-Z_]+):=', knobs_file.read_text(), re.MULTILINE)
    assert {"IMAGE", "TAG", "RIE_PORT", "DOCKER_NETWORK", "STORE", "PROFILE"} <= set(knobs)
    for script in (REPO / "scripts").rglob("*.sh"):
        if script == knobs_file:
            continue
        text = script.read_text()
        for knob in knobs:
            assert f"${{{knob}:-" not in text and f"${{{knob}:=" not in text, f"{script}: {knob} default"
    assert "?=" not in (REPO / "Makefile").read_text(), "the Makefile sets no defaults"


def test_the_pushed_digest_is_the_one_of_exactly_the_repository(tmp_path: Path) -> None:
    # Two repositories whose names contain one another: cache.example.com/x holds example.com/x.
    lookalike = f"cache.example.com/naver-sms-worker@sha256:{'a' * 64}"
    wanted = f"example.com/naver-sms-worker@sha256:{'b' * 64}"
    longer = f"example.com/naver-sms-worker@sha256:{'c' * 64}-extra"
    fake = tmp_path / "docker"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' '{lookalike}' '{longer}' '{wanted}'\n")
    fake.chmod(0o755)
    out = subprocess.run(
        [
            "bash",
            "-c",
            'source scripts/lib.sh && repo_digest "$1" "$2"',
            "_",
            "sha256:x",
            "example.com/naver-sms-worker",
        ],
        cwd=REPO,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (out.returncode, out.stdout) == (0, wanted + "\n")


def lib(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"source scripts/lib.sh && {code}", "_", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("registry", "local"),
    [
        ("127.0.0.1:5000", True),
        ("127.0.0.1", True),
        ("localhost:5000/rehearsal", True),
        ("[::1]:5000", True),
        ("127.0.0.1.example.com:5000", False),
        ("localhost.example.com", False),
        ("127.0.0.10:5000", False),
        ("ghcr.io/localhost", False),
        ("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com", False),
    ],
)
def test_local_registries_are_this_machines_own(registry: str, local: bool) -> None:
    assert (lib('is_local_registry "$1"', registry).returncode == 0) is local


def test_an_ipv6_loopback_registry_is_a_registry() -> None:
    found = lib("target_registry", REGISTRY="[::1]:5000")
    assert (found.returncode, found.stdout) == (0, "[::1]:5000")


@pytest.mark.parametrize(("label", "refused"), [("3f2a9c0d1e7b", True), ("", False)])
def test_only_an_image_on_a_standin_base_is_kept_from_a_remote_registry(
    tmp_path: Path, label: str, refused: bool
) -> None:
    # The engine's answer for the image's standin.inputs label: set by `make standins`, inherited by every
    # image built on a stand-in; empty (no such label) for an image on the official base.
    fake = tmp_path / "docker"
    fake.write_text(f"#!/bin/sh\necho '{label}'\n")
    fake.chmod(0o755)
    path = f"{tmp_path}:{os.environ['PATH']}"
    remote = lib('refuse_standin_push "$1" "$2"', "naver-sms-worker:abc", "ghcr.io/acme", PATH=path)
    assert (remote.returncode == 1) is refused
    if refused:
        assert "offline stand-in base" in remote.stderr and "ghcr.io/acme" in remote.stderr
    local = lib('refuse_standin_push "$1" "$2"', "naver-sms-worker:abc", "127.0.0.1:5000", PATH=path)
    assert local.returncode == 0
