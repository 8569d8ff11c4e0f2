"""`make infra-deploy PARAMS=...`: each Key=Value reaches `aws cloudformation deploy` as one argument, a
value with spaces in it included. The `aws` on PATH is a stand-in that records its arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import script

DIGEST = f"123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/naver-sms-automation@sha256:{'c' * 64}"


def infra_deploy(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """scripts/infra-deploy.sh with a recording `aws`, and the argument lists it was called with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "aws.jsonl"
    aws = bin_dir / "aws"
    aws.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"with open({str(log)!r}, 'a') as out:\n    out.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    aws.chmod(0o755)
    # The template's cfn-lint is not what is tested here (tests/integration/test_infra.py is): a venv of
    # the test's own, already synced, whose cfn-lint passes, so the shared venv is never re-synced.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    for tool in ("python", "cfn-lint"):
        (venv / "bin" / tool).write_text("#!/bin/sh\nexit 0\n")
        (venv / "bin" / tool).chmod(0o755)
    (venv / ".synced").touch()
    result = script("infra-deploy.sh", PATH=f"{bin_dir}:{os.environ['PATH']}", VENV=str(venv), **env)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def overrides(call: list[str]) -> list[str]:
    return call[call.index("--parameter-overrides") + 1 :]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            "Schedule=rate(15 minutes) AlarmEmail=a@b.c",
            ["Schedule=rate(15 minutes)", "AlarmEmail=a@b.c"],
        ),
        # One a line works too; white space inside a value is kept as given, around the list it is not.
        (
            "\n  Schedule=cron(0 9 * * ? *)\nSensSender=010  1234\n AlarmEmail=\n",
            ["Schedule=cron(0 9 * * ? *)", "SensSender=010  1234", "AlarmEmail="],
        ),
        # Only the first '=' separates key and value.
        (
            "SensServiceId=ncp:sms:kr:1234:x=y SmsDryRun=false",
            ["SensServiceId=ncp:sms:kr:1234:x=y", "SmsDryRun=false"],
        ),
    ],
)
def test_each_parameter_is_one_argument_whatever_its_spaces(
    tmp_path: Path, params: str, expected: list[str]
) -> None:
    result, calls = infra_deploy(tmp_path, STACK="naver-sms", IMAGE_URI=DIGEST, PARAMS=params)
    assert result.returncode == 0, result.stderr
    deploy, describe = calls
    assert deploy[:2] == ["cloudformation", "deploy"]
    assert overrides(deploy) == [f"ImageUri={DIGEST}", *expected]
    assert describe[:2] == ["cloudformation", "describe-stacks"]


def test_no_params_no_overrides(tmp_path: Path) -> None:
    result, calls = infra_deploy(tmp_path, STACK="naver-sms")
    assert result.returncode == 0, result.stderr
    assert "--parameter-overrides" not in calls[0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("Shedule=rate(1 hour)", "'Shedule' is not a parameter of infra/template.yaml"),
        ("rate(15 minutes)", "expected Key=Value at 'rate(15 minutes)'"),
        ("=x", "expected Key=Value at '=x'"),
    ],
)
def test_a_parameter_the_template_does_not_have_stops_before_aws_is_called(
    tmp_path: Path, params: str, message: str
) -> None:
    result, calls = infra_deploy(tmp_path, STACK="naver-sms", PARAMS=params)
    assert result.returncode == 1 and message in result.stderr
    assert calls == []


@pytest.mark.parametrize(
    ("image_uri", "params"),
    [
        ("", f"ImageUri={DIGEST}"),  # by digest, yet it would skip deploy's stand-in refusal
        ("", "ImageUri=naver-sms-automation:latest"),  # not by digest: IMAGE_URI would refuse it
        (DIGEST, "Schedule=rate(1 hour) ImageUri=naver-sms-automation:latest"),  # overriding IMAGE_URI
    ],
    ids=["by-digest", "by-tag", "after-image-uri"],
)
def test_the_image_goes_by_image_uri_alone_never_through_params(
    tmp_path: Path, image_uri: str, params: str
) -> None:
    result, calls = infra_deploy(tmp_path, STACK="naver-sms", IMAGE_URI=image_uri, PARAMS=params)
    assert result.returncode == 1
    assert "PARAMS: ImageUri is not set through PARAMS: set IMAGE_URI to the image by digest" in result.stderr
    assert calls == []
