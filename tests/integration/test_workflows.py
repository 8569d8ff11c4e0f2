"""The GitHub workflows are the laptop commands: checked structurally, since they only run on GitHub."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import BIN
from tests.support.procs import REPO

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
