"""The GitHub workflows are the laptop commands: checked structurally, since they only run on GitHub."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN
from tests.support.procs import REPO, need

WORKFLOWS = REPO / ".github" / "workflows"
SHA_PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z-]+):.*## ", (REPO / "Makefile").read_text(), re.MULTILINE))


def test_workflows_match_the_github_schema() -> None:
    out = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS.glob("*.yml")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_ci_job_order_permissions_and_timeouts() -> None:
    ci = load("ci.yml")
    jobs = ci["jobs"]
    assert ci["permissions"] == {"contents": "read"}
    assert ci["concurrency"]["cancel-in-progress"] is True
    assert "needs" not in jobs["quality"]
    assert jobs["tests"]["needs"] == "quality" and jobs["images"]["needs"] == "tests"
    assert all(isinstance(job["timeout-minutes"], int) for job in jobs.values())


@pytest.mark.parametrize("name", sorted(path.name for path in WORKFLOWS.glob("*.yml")))
def test_every_image_build_step_has_a_time_limit_below_its_jobs(name: str) -> None:
    for job_name, job in load(name)["jobs"].items():
        for step in job.get("steps", []):
            if "make build" not in step.get("run", ""):
                continue
            limit = step.get("timeout-minutes")
            assert isinstance(limit, int), f"{name} {job_name}: '{step['name']}' has no timeout-minutes"
            assert limit < job["timeout-minutes"], f"{name} {job_name}: '{step['name']}' outlasts its job"


def test_ci_never_pushes_or_logs_in() -> None:
    text = (WORKFLOWS / "ci.yml").read_text()
    for forbidden in (
        "make push",
        "make tag",
        "docker push",
        "docker login",
        "login-action",
        "id-token",
        "configure-aws-credentials",
        "push: true",
    ):
        assert forbidden not in text, forbidden


NAMES = sorted(path.name for path in WORKFLOWS.glob("*.yml"))


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_by_sha_with_its_version(name: str) -> None:
    lines = [line for line in (WORKFLOWS / name).read_text().splitlines() if "uses:" in line]
    assert lines
    for line in lines:
        ref = line.split("uses:", 1)[1].split("#")[0].strip()
        assert SHA_PINNED.match(ref), line
        assert re.search(r"# v\d+\.\d+\.\d+$", line), f"no version comment: {line}"


@pytest.mark.parametrize("name", NAMES)
def test_run_steps_call_documented_make_targets(name: str) -> None:
    targets = make_targets()
    readme = (REPO / "README.md").read_text()
    called = {
        t
        for step in steps(load(name))
        for t in re.findall(r"\bmake (?:--silent )?([a-z-]+(?: [a-z-]+)*)", step.get("run", ""))
    }
    words = {w for group in called for w in group.split() if not w.startswith("-")}
    assert words and words <= targets, words - targets
    assert all(f"`{w}`" in readme for w in words), [w for w in words if f"`{w}`" not in readme]


def test_build_step_uses_a_cache_scope_per_image() -> None:
    env = load("ci.yml")["jobs"]["images"]["env"]
    assert "scope=${{ matrix.image }}" in env["BUILD_CACHE_FROM"]
    assert "type=gha" in env["BUILD_CACHE_TO"]


def test_deploy_uses_oidc_and_deploys_only_what_passed_ci_on_main() -> None:
    deploy = load("deploy.yml")
    trigger = deploy[True] if True in deploy else deploy["on"]  # YAML 1.1 reads `on` as True
    assert set(trigger) == {"workflow_run"}  # no push, no manual dispatch of any branch
    assert trigger["workflow_run"] == {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    job = deploy["jobs"]["deploy"]
    condition = " ".join(job["if"].split())
    for clause in (
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.event == 'push'",
        "github.event.workflow_run.head_branch == 'main'",
    ):
        assert clause in condition
    assert job["permissions"]["id-token"] == "write" and job["environment"] == "production"
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"] == {
        "ref": "${{ github.event.workflow_run.head_sha }}",
        "persist-credentials": False,
    }
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "aws-access-key-id" not in text and "secrets.AWS" not in text
    runs = [step.get("run", "") for step in job["steps"]]
    assert (
        runs[-1] == "make deploy"
    )  # by digest, version smoked before the alias moves: tests/e2e/test_deploy.py


@pytest.mark.parametrize("name", NAMES)
def test_the_env_context_names_only_what_the_workflow_sets(name: str) -> None:
    # `${{ env.X }}` holds only variables the workflow itself sets; the runner's own environment
    # (CHROMEWEBDRIVER, CHROME_BIN …) is `$X` in the shell. A wrong one evaluates to "" silently.
    workflow = load(name)
    jobs = workflow["jobs"].values()
    defined = set(workflow.get("env", {}))
    defined |= {key for job in jobs for key in job.get("env", {})}
    defined |= {key for job in jobs for step in job["steps"] for key in step.get("env", {})}
    used = set(re.findall(r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)", (WORKFLOWS / name).read_text()))
    assert used <= defined, used - defined


def test_pin_chrome_runs_weekly_and_by_hand_and_proposes_only_a_tested_pin() -> None:
    workflow = load("pin-chrome.yml")
    trigger = workflow[True] if True in workflow else workflow["on"]
    assert set(trigger) == {"workflow_dispatch", "schedule"} and trigger["schedule"][0]["cron"]
    assert workflow["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["pin"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    runs = [step.get("run", "") for step in job["steps"]]
    order = ["make pin-chrome", "make build IMAGE=lambda", "make run-rie", "make smoke", "gh pr create"]
    positions = [next(i for i, run in enumerate(runs) if command in run) for command in order]
    assert positions == sorted(positions), "pin, build, run, smoke, and only then the pull request"
    # The version a person types reaches the shell as a variable, never spliced into the script.
    assert all("inputs." not in run for run in runs)


def checkouts(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in steps(workflow) if step.get("uses", "").startswith("actions/checkout@")]


@pytest.mark.parametrize("name", NAMES)
def test_no_checkout_leaves_a_token_in_git_config(name: str) -> None:
    # actions/checkout writes its token into .git/config unless told not to, where every later step (and
    # an uploaded workspace) can read it. No workflow's checkout needs it: pin-chrome pushes with a token
    # its push step holds alone.
    found = checkouts(load(name))
    assert found
    for step in found:
        assert step.get("with", {}).get("persist-credentials") is False, step
        assert "token" not in step.get("with", {}), step


def test_pin_chrome_only_the_step_that_pushes_holds_the_token() -> None:
    workflow = load("pin-chrome.yml")
    job = workflow["jobs"]["pin"]

    def holds_a_token(part: object) -> bool:
        text = json.dumps(part)
        return "secrets." in text or "github.token" in text

    assert not holds_a_token(workflow.get("env", {})) and not holds_a_token(job.get("env", {}))
    holders = [step for step in job["steps"] if holds_a_token(step)]
    assert len(holders) == 1
    (pusher,) = holders
    assert "push --force origin" in pusher["run"] and "gh pr create" in pusher["run"]
    assert "secrets.PIN_CHROME_TOKEN" in pusher["env"]["GH_TOKEN"]
    # The token reaches git through a credential helper that reads the environment: no file, no argv.
    assert "credential.helper" in pusher["run"] and "$GH_TOKEN" in pusher["run"]
    assert "x-access-token:" not in pusher["run"] and "remote set-url" not in pusher["run"]


def test_zizmor_finds_nothing_in_the_workflows_or_dependabot() -> None:
    zizmor = BIN / "zizmor"
    need(zizmor.exists(), "zizmor from the dev lock (make venv)")
    out = subprocess.run(
        [str(zizmor), "--offline", "--no-progress", "--color", "never", str(REPO / ".github")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def gate_steps(job: dict[str, Any], image: str, name: str) -> dict[str, int]:
    """Where each of the image's gates runs in the job (step indices)."""
    runs = [(i, step.get("run", "")) for i, step in enumerate(job["steps"])]

    def first(fragment: str) -> int:
        return next(i for i, run in runs if fragment in run)

    scans = [
        i
        for i, step in enumerate(job["steps"])
        if step.get("uses", "").startswith("aquasecurity/trivy-action@")
        and step["with"]["image-ref"] == f"{name}:latest"
        and step["with"]["exit-code"] == "1"
        and step["with"]["severity"] == "CRITICAL"
    ]
    assert len(scans) == 1, f"one Trivy gate for {name}"
    return {
        "build": first(f"make build IMAGE={image}"),
        "smoke": first(f"make smoke IMAGE={image}"),
        "size-check": first(f"make size-check IMAGE={image}"),
        "scan": scans[0],
    }


def test_deploy_ships_only_images_it_smoked_size_checked_and_scanned_itself() -> None:
    job = load("deploy.yml")["jobs"]["deploy"]
    runs = [step.get("run", "") for step in job["steps"]]
    credentials = next(
        i for i, step in enumerate(job["steps"]) if "configure-aws-credentials" in step.get("uses", "")
    )
    ships = [i for i, run in enumerate(runs) if re.search(r"\bmake\b.*\b(push|deploy)\b", run)]
    assert ships and runs[-1] == "make deploy"
    builds = [i for i, run in enumerate(runs) if "make build" in run]
    for image, name in (("worker", "naver-sms-worker"), ("lambda", "naver-sms-automation")):
        gates = gate_steps(job, image, name)
        assert gates["build"] < min(gates["smoke"], gates["size-check"], gates["scan"]), image
        # Every gate runs before AWS credentials exist, and so before anything is pushed.
        assert max(gates.values()) < credentials < min(ships), image
        # Built once: the image the gates saw is the one pushed.
        assert sum(f"make build IMAGE={image}" in run for run in runs) == 1, image
    assert len(builds) == 2 and max(builds) < credentials
    assert "make run-rie" in runs[gate_steps(job, "lambda", "naver-sms-automation")["smoke"]]


def test_dependabot_keeps_both_dockerfiles_bases_current() -> None:
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    docker = {entry["directory"] for entry in config["updates"] if entry["package-ecosystem"] == "docker"}
    for dockerfile in ("Dockerfile", "docker/worker.Dockerfile"):
        assert (REPO / dockerfile).is_file()
        parent = Path(dockerfile).parent.as_posix()
        assert ("/" if parent == "." else f"/{parent}") in docker, dockerfile
    # Version updates wait a week (a hijacked release is usually caught by then); security updates never do.
    assert all(entry["cooldown"]["default-days"] >= 7 for entry in config["updates"])
