"""`make deploy` rehearsed: push to a local registry, then the Lambda API calls (update by digest, wait,
publish a version, smoke it, move the alias) against moto's server, whose Lambda answers invokes from a
queue we fill — a passing and a failing smoke."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3
import pytest

from tests.support.procs import dirty_tree, need, script

pytestmark = pytest.mark.docker
FUNCTION = "naver-sms-automation"
OK = json.dumps({"status": "ok", "checks": {"settings": "ok", "secrets": "ok", "browser": "ok"}})


def moto_api(aws: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(f"{aws}/moto-api/{path}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass


@pytest.fixture
def function(aws: str) -> Any:
    """A function on an older image, already live through its alias, as production is."""
    moto_api(aws, "config", {"lambda": {"use_docker": False}})  # invokes answer from the queue below
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = boto3.client("iam").create_role(RoleName="naver-sms", AssumeRolePolicyDocument=json.dumps(trust))
    client = boto3.client("lambda")
    client.create_function(
        FunctionName=FUNCTION,
        PackageType="Image",
        Code={"ImageUri": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/naver-sms-automation:old"},
        Role=role["Role"]["Arn"],
    )
    first = client.publish_version(FunctionName=FUNCTION)["Version"]
    client.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion=first)
    return client


def smoke_answers(aws: str, *answers: str) -> None:
    moto_api(aws, "static/lambda-simple/response", {"results": list(answers), "region": "ap-northeast-2"})


def deploy(registry: str) -> Any:
    return script("deploy.sh", FUNCTION=FUNCTION, REGISTRY=registry, IMAGE="lambda")


def test_deploy_moves_the_alias_only_after_the_new_version_passes_its_smoke(
    images: dict[str, str], registry: str, function: Any, aws: str
) -> None:
    need(not dirty_tree(), "push refuses a dirty tree (commit first)")
    assert script("tag.sh", IMAGE="lambda", REGISTRY=registry).returncode == 0

    smoke_answers(aws, OK)
    done = deploy(registry)
    assert done.returncode == 0, done.stderr
    digest = done.stdout.strip().splitlines()
    live = function.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"]
    assert digest == [live] and live != "1"
    image = function.get_function(FunctionName=FUNCTION, Qualifier=live)["Code"]["ImageUri"]
    assert image.startswith(f"{registry}/naver-sms-automation@sha256:")
    assert f"alias 'live': 1 → {live}" in done.stderr

    smoke_answers(aws, json.dumps({"status": "error", "checks": {"browser": "error: no chrome"}}))
    failed = deploy(registry)
    assert failed.returncode == 1
    assert "failed its smoke" in failed.stderr and f"alias 'live' left at {live}" in failed.stderr
    assert function.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"] == live


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FUNCTION": ""}, "FUNCTION is not set"),
        ({"FUNCTION": FUNCTION, "ALIAS": "7"}, "ALIAS='7' is not a Lambda alias name"),
        (
            {"FUNCTION": FUNCTION, "IMAGE_URI": "naver-sms-automation:latest"},
            "is not a pushed image by digest",
        ),
    ],
)
def test_deploy_refuses_bad_variables_before_any_change(env: dict[str, str], message: str, aws: str) -> None:
    result = script("deploy.sh", **env)
    assert result.returncode != 0 and message in result.stderr
