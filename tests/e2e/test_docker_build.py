"""Both images for real: built by the same scripts users run, on this machine's Docker engine.

Each test reads Arrange / Act / Assert and names the criterion of story 4.3 it proves (AC4: the Lambda image
builds from the Dockerfile; AC5: it runs under its emulator and answers the smoke event; the worker's
criteria as VALIDATION.md's table lists them). The story's commands as written are in
tests/e2e/test_first_contact.py.

Offline, both are built on stand-in bases under the official names (scripts/offline/standins.sh), the Lambda
image's browser stage from a local Chrome for Testing mirror (scripts/offline/cft-mirror.sh); the Dockerfiles
are the production ones.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.conftest import BIN
from tests.support.lambda_invoke import invoke, smoke_summary
from tests.support.procs import (
    REPO,
    dirty_tree,
    docker,
    free_port,
    need,
    port_open,
    project_version,
    script,
    script_value,
    wait_until,
)

pytestmark = pytest.mark.docker


def stages(path: Path) -> list[list[dict[str, str]]]:
    """dockerfile-parse gives a flat instruction list; split it at each FROM."""
    parsed: list[list[dict[str, str]]] = []
    for instruction in DockerfileParser(str(path)).structure:
        if instruction["instruction"] == "FROM":
            parsed.append([])
        if parsed:
            parsed[-1].append(instruction)
    return parsed


def instructions(stage: list[dict[str, str]], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def test_hadolint_clean() -> None:
    # Act (AC4, both Dockerfiles lint-clean): hadolint, without blanket ignores.
    out = subprocess.run(
        [str(BIN / "hadolint"), "Dockerfile", "docker/worker.Dockerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    # Assert
    assert out.returncode == 0, out.stdout + out.stderr


def test_lambda_dockerfile_structure() -> None:
    # Act (AC4: the Lambda image from public.ecr.aws/lambda/python:3.11, CMD main.lambda_handler)
    base, browser, app = stages(REPO / "Dockerfile")

    # Assert
    # The base is named on a FROM line (Dependabot's), and that is where the scripts read it.
    # linux/amd64 wherever the base is chosen, so an arm64 laptop's plain `docker build .` gets the base
    # Chrome for Testing's linux64 build runs on (the app stage inherits it).
    amd64 = "--platform=linux/amd64"
    assert base[0]["value"] == f"{amd64} {script_value('LAMBDA_BASE_IMAGE')} AS lambda-base"
    assert browser[0]["value"] == f"{amd64} ${{LAMBDA_BASE}} AS browser"
    assert app[0]["value"] == "browser AS app"
    assert instructions(app, "CMD") == ['["main.lambda_handler"]']
    assert any("--require-hashes" in run for run in instructions(app, "RUN"))
    # The browser stage carries the committed pin into the build and verifies before it unpacks.
    assert any(
        "docker/chrome-for-testing.pin" in c and "docker/fetch-chrome.sh" in c
        for c in instructions(browser, "COPY")
    )
    assert any(
        "/tmp/cft/fetch-chrome.sh /tmp/cft/chrome-for-testing.pin" in r for r in instructions(browser, "RUN")
    )
    # Every key of the pin can be given as a build arg of the same name (scripts/build.sh passes them all).
    pin = (REPO / "docker" / "chrome-for-testing.pin").read_text().splitlines()
    keys = {line.split("=")[0] for line in pin if line and not line.startswith("#")}
    assert keys == {"CFT_VERSION", "CFT_BROWSER", "CFT_BROWSER_SHA256", "CFT_DRIVER_SHA256"}
    assert keys <= {arg.split("=")[0] for arg in instructions(browser, "ARG")}
    fetch = (REPO / "docker" / "fetch-chrome.sh").read_text()
    assert "sha256sum -c" in fetch and fetch.index("sha256sum -c") < fetch.index("unzip")
    copies = instructions(app, "COPY")
    assert copies[-1].startswith("src/"), "source must be the last layer"
    assert not any(".env" in c for c in copies)


def test_worker_dockerfile_structure() -> None:
    # Act (the worker: multi-stage python:3.13-slim, non-root, HEALTHCHECK)
    base, builder, package, runtime = stages(REPO / "docker" / "worker.Dockerfile")

    # Assert
    assert base[0]["value"] == f"{script_value('WORKER_BASE_IMAGE')} AS python-base"
    assert builder[0]["value"].endswith("AS builder") and runtime[0]["value"].endswith("AS runtime")
    assert package[0]["value"].endswith("AS package")
    assert instructions(runtime, "USER") == ["10001:10001"]
    assert instructions(runtime, "HEALTHCHECK") and "/healthz" in instructions(runtime, "HEALTHCHECK")[0]
    assert instructions(runtime, "CMD") == ['["naver-sms-worker"]']
    assert not any(".env" in c for c in instructions(runtime, "COPY") + instructions(builder, "COPY"))


def test_builds_are_tagged_with_the_commit(images: dict[str, str]) -> None:
    # Arrange: both images built by `make build` (the images fixture); Act: the commit's short sha.
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    # Assert (`make build` tags :latest and :<git sha>, and keeps its log)
    for name in ("naver-sms-automation", "naver-sms-worker"):
        tags = docker("images", name, "--format", "{{.Tag}}").split()
        assert "latest" in tags and any(t.startswith(sha) for t in tags)
        assert (REPO / "build" / f"{'lambda' if 'automation' in name else 'worker'}-build.log").exists()


@pytest.mark.parametrize(
    ("image", "paths"),
    [
        (
            "lambda",
            [
                "/var/task/.env",
                "/var/task/tests",
                "/var/task/.git",
                "/var/task/__main__.py",
                "/var/task/naver_sms.egg-info",
            ],
        ),
        (
            "worker",
            [
                "/app/.env",
                "/app/tests",
                "/app/.git",
                "/app/src/naver_sms",
                "/opt/venv/bin/pip",
                "/mnt/naver_sms-1.0.0-py3-none-any.whl",
            ],
        ),
    ],
)
def test_only_what_runs_is_in_the_images(images: dict[str, str], image: str, paths: list[str]) -> None:
    # Arrange: a planted .env in the checkout (the images fixture); what each Dockerfile copies is the
    # rest (the build context itself: test_the_legacy_builder_sends_only_what_the_images_copy).
    checks = " && ".join(f"test ! -e {p}" for p in paths)

    # Act + Assert (AC4: only what runs): docker exits non-zero, failing the test, if one exists.
    docker("run", "--rm", "--network", "none", "--entrypoint", "sh", images[image], "-c", checks)


def test_worker_image_has_no_selenium_or_boto3(images: dict[str, str]) -> None:
    code = "import importlib.util as u; print([m for m in ('selenium', 'boto3') if u.find_spec(m)])"
    assert docker("run", "--rm", "--network", "none", images["worker"], "python", "-c", code) == "[]"


RIE_PORT = free_port()


@pytest.fixture(scope="module")
def rie_container(images: dict[str, str]) -> Iterator[str]:
    """`make run-rie` with no knobs but the port: Docker's default network, published on loopback."""
    name = f"naver-sms-rie-test-{os.getpid()}"
    result = script("run-rie.sh", RIE_DETACH="1", RIE_CONTAINER=name, RIE_PORT=str(RIE_PORT))
    assert result.returncode == 0, result.stderr
    wait_until(lambda: port_open(RIE_PORT), 30, "the RIE in the container")
    yield name
    docker("rm", "--force", name, check=False)


def test_the_emulator_port_is_published_on_loopback_only(rie_container: str) -> None:
    bindings = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", rie_container))
    assert bindings["8080/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(RIE_PORT)}]


def test_lambda_container_smoke_and_bad_events(rie_container: str) -> None:
    # Arrange: `make run-rie` in the background (the fixture). Act (AC5): `make smoke`.
    result = script("smoke.sh", IMAGE="lambda", RIE_PORT=str(RIE_PORT))

    # Assert (AC5): every sample answered as expected, on a read-only root, after an init.
    assert result.returncode == 0, result.stderr
    assert smoke_summary() in result.stderr
    assert docker("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", rie_container) == "true"
    init = re.search(
        r"INIT REPORT\(durationMs: ([\d.]+)",
        docker("logs", rie_container)
        + subprocess.run(
            ["docker", "logs", rie_container], capture_output=True, text=True, check=False
        ).stderr,
    )
    assert init is not None and float(init.group(1)) > 0


def test_the_smoke_answer_reports_the_one_version_of_pyproject(rie_container: str) -> None:
    # Arrange: the emulator in the container (fixture). Act (AC5): the smoke event.
    url = f"http://127.0.0.1:{RIE_PORT}/2015-03-31/functions/function/invocations"
    result = invoke(url, {"smoke": True})
    # Assert: the version is pyproject's.
    assert isinstance(result, dict) and result["version"] == project_version()


def test_lambda_root_filesystem_is_read_only(rie_container: str) -> None:
    out = subprocess.run(
        [
            "docker",
            "exec",
            rie_container,
            "sh",
            "-c",
            "touch /var/task/x 2>&1; touch /tmp/ok && echo tmp-writable",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Read-only file system" in out.stdout and "tmp-writable" in out.stdout


def test_worker_container_smoke(images: dict[str, str]) -> None:
    # Arrange: the worker image (fixture).
    # Act (the worker: healthy, JSON logs, graceful SIGTERM): `make smoke`.
    result = script("smoke.sh", IMAGE="worker")

    # Assert: the smoke passed, `docker stop` exited 0 in its grace period, as uid 10001.
    assert result.returncode == 0, result.stderr
    assert "docker stop in" in result.stderr and "exit 0" in result.stderr
    assert docker("run", "--rm", "--network", "none", "--entrypoint", "id", images["worker"], "-u") == "10001"


@pytest.mark.parametrize("image", ["lambda", "worker"])
def test_size_check(images: dict[str, str], image: str) -> None:
    # Act (`make size-check`: within budget, and a tight budget fails)
    result = script("size-check.sh", IMAGE=image)

    # Assert
    assert result.returncode == 0, result.stderr
    assert "size ok" in result.stderr and "largest layers" in result.stdout
    tight = script("size-check.sh", IMAGE=image, LAMBDA_BUDGET_MB="10", WORKER_BUDGET_MB="10")
    assert tight.returncode == 1 and "over its budget of 10 MB" in tight.stderr


def test_tag_push_pull_round_trip(images: dict[str, str], registry: str) -> None:
    need(not dirty_tree(), "push refuses a dirty tree (commit first)")
    assert script("tag.sh", IMAGE="worker", REGISTRY=registry).returncode == 0
    pushed = script("push.sh", IMAGE="worker", REGISTRY=registry)
    assert pushed.returncode == 0, pushed.stderr
    digest = pushed.stdout.strip().splitlines()[-1]
    assert re.fullmatch(rf"{re.escape(registry)}/naver-sms-worker@sha256:[0-9a-f]{{64}}", digest)
    docker("rmi", digest, f"{registry}/naver-sms-worker:latest", check=False)
    docker("pull", digest)
    assert json.loads(docker("image", "inspect", "--format", "{{json .RepoDigests}}", digest))


def test_push_refuses_a_latest_that_is_not_the_image_built_for_this_commit(
    images: dict[str, str], registry: str
) -> None:
    need(not dirty_tree(), "push refuses a dirty tree (commit first)")
    assert script("tag.sh", IMAGE="worker", REGISTRY=registry).returncode == 0
    docker("tag", images["lambda"], f"{registry}/naver-sms-worker:latest")  # latest now names another image
    try:
        pushed = script("push.sh", IMAGE="worker", REGISTRY=registry)
    finally:
        docker("rmi", f"{registry}/naver-sms-worker:latest", check=False)
    assert pushed.returncode == 1
    assert (
        f"{registry}/naver-sms-worker:latest is image " in pushed.stderr
        and "make tag IMAGE=worker" in pushed.stderr
    )
    assert "docker push" not in pushed.stderr, "nothing is pushed before every check passed"


LOOKALIKE = "123456789012.dkr.ecr.us-east-1.amazonaws.com.attacker.example"


def aws_cli_recorder(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An `aws` first on PATH that records how it was called (no ECR can be reached from here)."""
    calls = tmp_path / "aws-calls"
    shim = tmp_path / "bin" / "aws"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$*" >> {calls}\necho not-a-password\n')
    shim.chmod(0o755)
    return {"PATH": f"{shim.parent}:{os.environ['PATH']}"}, calls


def standin(image: str) -> bool:
    return bool(docker("image", "inspect", "--format", '{{index .Config.Labels "standin.inputs"}}', image))


def test_a_lookalike_ecr_host_never_gets_ecr_credentials(images: dict[str, str], tmp_path: Path) -> None:
    need(not dirty_tree(), "push refuses a dirty tree (commit first)")
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    )
    for tag in (sha.stdout.strip(), "latest"):
        docker("tag", images["worker"], f"{LOOKALIKE}/naver-sms-worker:{tag}")
    path, calls = aws_cli_recorder(tmp_path)
    try:
        pushed = script("push.sh", IMAGE="worker", REGISTRY=LOOKALIKE, AWS_REGION="us-east-1", **path)
    finally:
        for tag in (sha.stdout.strip(), "latest"):
            docker("rmi", f"{LOOKALIKE}/naver-sms-worker:{tag}", check=False)
    if standin(images["worker"]):
        # Offline, the image is built on a stand-in base: push stops before any registry check.
        assert "is built on an offline stand-in base" in pushed.stderr
    else:
        assert f"docker push --quiet {LOOKALIKE}/naver-sms-worker" in pushed.stderr  # past every check
    assert pushed.returncode != 0  # the host does not exist; what matters is what was sent before
    assert not calls.exists() and "logging in" not in pushed.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"REGISTRY": "", "AWS_ACCOUNT_ID": "12345", "AWS_REGION": "ap-northeast-2"},
            "not a 12-digit AWS account id",
        ),
        ({"REGISTRY": "", "AWS_ACCOUNT_ID": "123456789012", "AWS_REGION": ""}, "AWS_REGION is not set"),
        ({"REGISTRY": "", "AWS_ACCOUNT_ID": "123456789012", "AWS_REGION": "seoul"}, "not an AWS region name"),
        ({"REGISTRY": "Bad Registry!"}, "REGISTRY='Bad Registry!' is not a registry"),
        ({"IMAGE": "both"}, "IMAGE='both' is not valid: expected one of: lambda worker"),
    ],
)
def test_bad_variables_stop_before_anything_is_pushed(env: dict[str, str], message: str) -> None:
    result = script("push.sh", **{"IMAGE": "worker", **env})
    assert result.returncode == 1 and message in result.stderr


def test_run_rie_refuses_bad_memory(images: dict[str, str]) -> None:
    result = script("run-rie.sh", LAMBDA_MEMORY_MB="64")
    assert result.returncode == 1 and "LAMBDA_MEMORY_MB=64 is not valid" in result.stderr


@pytest.mark.parametrize("ci", ["true", "false"])
def test_a_build_refuses_a_browser_stage_without_checksums(engine: None, tmp_path: Path, ci: str) -> None:
    # A mirror named by the user, and a pin of the committed version with no checksums yet: in CI or
    # not, the build stops and says what to run (it never pins by itself).
    committed = (REPO / "docker" / "chrome-for-testing.pin").read_text()
    version = re.search(r"^CFT_VERSION=(\S+)$", committed, re.MULTILINE)
    assert version is not None
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text(
        f"CFT_VERSION={version.group(1)}\nCFT_BROWSER=chrome\nCFT_BROWSER_SHA256=\nCFT_DRIVER_SHA256=\n"
    )
    result = script("build.sh", IMAGE="lambda", CI=ci, CFT_PIN=str(pin), CFT_BASE_URL="http://127.0.0.1:9")
    assert result.returncode == 1
    assert (
        f"has no checksums for Chrome for Testing {version.group(1)} (chrome): run 'make pin-chrome' and "
        "commit the pin" in result.stderr
    )


def test_a_base_without_a_stand_in_is_named(engine: None) -> None:
    result = script("build.sh", IMAGE="lambda", LAMBDA_BASE="registry.invalid/lambda/python:3.11")
    assert result.returncode == 1
    assert "no local stand-in for registry.invalid/lambda/python:3.11" in result.stderr


def test_the_lambda_lock_installs_on_the_next_lambda_python(images: dict[str, str]) -> None:
    # LAMBDA_BASE=public.ecr.aws/lambda/python:3.13 runs the app stage's install under Python 3.13: the
    # same lock, hashes required, into a task root (here in the worker's Python 3.13 base).
    base = re.search(
        r"^FROM (\S+) AS python-base$", (REPO / "docker" / "worker.Dockerfile").read_text(), re.M
    )
    assert base is not None
    out = docker(
        "run", "--rm", "--volume", f"{REPO / 'requirements.txt'}:/requirements.txt:ro", base.group(1),
        "sh", "-c", "python -m pip install --quiet --no-cache-dir --root-user-action=ignore --require-hashes"
        " -r /requirements.txt --target /tmp/task && PYTHONPATH=/tmp/task python -c"
        " 'import selenium, boto3, yaml, pythonjsonlogger, sys; print(sys.version_info[:2])'",
    )  # fmt: skip
    assert out.endswith("(3, 13)")
