"""`make deploy` rehearsed: push to a local registry, then the Lambda API calls (update by digest, wait,
publish a version, smoke it, move the alias) against moto's server, whose Lambda answers invokes from a
queue we fill — a passing and a failing smoke, a smoke throttled by the reserved concurrency a scheduled
run holds, and an image on an offline stand-in base refused before anything is pushed."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from scripts import deploy_lambda
from tests.support.procs import dirty_tree, need, script

FUNCTION = "naver-sms-automation"
OK = json.dumps({"status": "ok", "checks": {"settings": "ok", "secrets": "ok", "browser": "ok"}})
PUSHED = f"127.0.0.1:5000/naver-sms-automation@sha256:{'a' * 64}"


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


@pytest.mark.docker
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


@pytest.mark.docker
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


class ThrottledLambda:
    """The Lambda client, whose first `times` invokes are refused as Lambda refuses them while a scheduled
    run holds the function's reserved concurrency of 1."""

    def __init__(self, client: Any, times: int) -> None:
        self.client, self.left, self.invokes = client, times, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def invoke(self, **kwargs: Any) -> Any:
        self.invokes += 1
        if self.left:
            self.left -= 1
            error = {"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}
            raise ClientError(error, "Invoke")
        return self.client.invoke(**kwargs)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """deploy_lambda's waits, on a clock of the test's own: each sleep moves it on at once."""
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(deploy_lambda, "sleep", sleep)
    monkeypatch.setattr(deploy_lambda, "clock", lambda: now[0])
    return slept


def test_a_throttled_smoke_is_tried_again_with_backoff_until_it_runs(
    function: Any, aws: str, waits: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    smoke_answers(aws, OK)
    throttled = ThrottledLambda(function, times=3)
    assert deploy_lambda.deploy(FUNCTION, PUSHED, "live", client=throttled) == 0
    assert throttled.invokes == 4 and waits == [5, 10, 20]
    live = function.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"]
    assert live != "1" and capsys.readouterr().out.split() == [live]


def test_a_smoke_that_never_runs_leaves_the_alias_where_it_was(
    function: Any, aws: str, waits: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    timeout = function.get_function_configuration(FunctionName=FUNCTION)["Timeout"]
    throttled = ThrottledLambda(function, times=1000)
    assert deploy_lambda.deploy(FUNCTION, PUSHED, "live", client=throttled) == 1
    # Bounded: as long as a run in flight can last (the function's timeout) and a minute more, backing off.
    assert sum(waits) == timeout + 60 and max(waits) <= 60 and waits[:3] == [5, 10, 20]
    err = capsys.readouterr().err
    assert "never ran its smoke" in err and "alias 'live' left at 1" in err
    assert function.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"] == "1"


def test_any_other_smoke_error_is_not_retried(function: Any, aws: str, waits: list[float]) -> None:
    class Broken(ThrottledLambda):
        def invoke(self, **kwargs: Any) -> Any:
            self.invokes += 1
            raise ClientError({"Error": {"Code": "ServiceException", "Message": "boom"}}, "Invoke")

    broken = Broken(function, times=0)
    with pytest.raises(ClientError):
        deploy_lambda.deploy(FUNCTION, PUSHED, "live", client=broken)
    assert broken.invokes == 1 and waits == []
    assert function.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"] == "1"


def docker_calls(env: dict[str, str]) -> list[str]:
    """The docker subcommands the script ran (inspect, tag, push, login …)."""
    return [line.split()[0] for line in Path(env["DOCKER_LOG"]).read_text().splitlines() if line]


def standin_docker(tmp_path: Path) -> dict[str, str]:
    """A `docker` on PATH answering as the engine does for an image built on `make standins`' base (the
    standin.inputs label it sets, inherited by every image built on it); every call is logged."""
    log = tmp_path / "docker.log"
    fake = tmp_path / "docker"
    fake.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$*\" >>'{log}'\n"
        'case "$*" in\n'
        "  *standin.inputs*) echo 3f2a9c0d1e7b ;;\n"
        "  *'{{.Id}}'*) echo sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef ;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    return {"PATH": f"{tmp_path}:{os.environ['PATH']}", "DOCKER_LOG": str(log)}


@pytest.mark.parametrize(
    "target",
    [
        {"REGISTRY": "ghcr.io/acme"},
        {"REGISTRY": "registry.example.com:5000"},
        {"AWS_ACCOUNT_ID": "123456789012", "AWS_REGION": "ap-northeast-2"},  # ECR
    ],
)
def test_push_refuses_an_image_on_a_standin_base_for_any_registry_but_a_local_one(
    tmp_path: Path, target: dict[str, str]
) -> None:
    env = standin_docker(tmp_path)
    refused = script("push.sh", IMAGE="worker", PATH=env["PATH"], **target)
    assert refused.returncode == 1
    assert "is built on an offline stand-in base" in refused.stderr and "proxy CA" in refused.stderr
    assert "REGISTRY=127.0.0.1:<port>" in refused.stderr  # what to do instead
    assert set(docker_calls(env)) == {"image"}  # inspected, never pushed, never logged in


@pytest.mark.parametrize("registry", ["127.0.0.1:5000", "localhost:5000/rehearsal", "[::1]:5000"])
def test_push_lets_a_standin_image_reach_a_local_registry(tmp_path: Path, registry: str) -> None:
    env = standin_docker(tmp_path)
    result = script("push.sh", IMAGE="worker", PATH=env["PATH"], REGISTRY=registry)
    assert "offline stand-in" not in result.stderr and "is not a registry" not in result.stderr


def test_deploy_refuses_a_standin_image_before_pushing_or_changing_anything(tmp_path: Path) -> None:
    env = standin_docker(tmp_path)
    venv = tmp_path / "venv"  # deploy.sh syncs its venv only after the check: never created here
    for target in (
        {"REGISTRY": "ghcr.io/acme"},
        {"IMAGE_URI": f"ghcr.io/acme/naver-sms-automation@sha256:{'b' * 64}"},
    ):
        refused = script("deploy.sh", FUNCTION=FUNCTION, PATH=env["PATH"], VENV=str(venv), **target)
        assert refused.returncode == 1 and "is built on an offline stand-in base" in refused.stderr
        assert not venv.exists()
    assert set(docker_calls(env)) == {"image"}
