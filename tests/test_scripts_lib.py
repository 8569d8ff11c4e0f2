"""scripts/lib.sh's checks, called the way the scripts call them."""

from __future__ import annotations

import subprocess

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
