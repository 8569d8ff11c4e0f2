"""First contact: a clone of this commit, used the way a new user uses it.

The story's own commands as written (story 4.3: `docker build -t naver-sms-automation .`, `docker images`,
`docker run --rm -p …:8080 --env-file .env naver-sms-automation:latest` and a `curl` of the smoke event;
story 1.4: `python -m src` in the worker image), changing only what this machine cannot reach: where a
pull fails, the Chrome for Testing address and the pin's values name the offline mirror (build args), and
the host port is a free one. Then the README's path, `make build && RIE_DETACH=1 make run-rie && make smoke`,
which on a machine that reaches Chrome for Testing builds the committed pin, and never rewrites the clone.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.support.chrome import ChromeSource, read_pin
from tests.support.lambda_invoke import EVENTS, mismatch, smoke_summary
from tests.support.procs import (
    REPO,
    dirty_tree,
    docker,
    free_port,
    need_tool,
    port_open,
    project_version,
    repo_env,
    script_value,
    shell_constant,
    wait_until,
)

pytestmark = pytest.mark.docker


def run(command: list[str], cwd: Path, timeout: float = 1200, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=repo_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A clone of this commit with nothing else: no .cache, no .env, no venv."""
    clone = tmp_path_factory.mktemp("first-contact") / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, capture_output=True)
    assert not (clone / ".cache").exists() and not (clone / ".env").exists()
    yield clone


def offline_build_args(chrome: ChromeSource) -> list[str]:
    """Nothing where Chrome for Testing is reached; the mirror's address and pin where it is not."""
    if chrome.url == shell_constant("CFT_SITE"):
        return []
    values = {"CFT_BASE_URL": chrome.url, **chrome.pin}
    return [arg for key, value in values.items() for arg in ("--build-arg", f"{key}={value}")]


# Story 4.3's commands as the README gives them; the tests run them with only the host port changed.
STORY_BUILD = "docker build -t naver-sms-automation ."
STORY_LIST = "docker images naver-sms-automation"
STORY_RUN = "docker run --rm -p 9000:8080 --env-file .env naver-sms-automation:latest"
STORY_INVOKE = (
    "curl -s -d '{\"smoke\": true}' http://localhost:9000/2015-03-31/functions/function/invocations"
)


def test_the_readme_gives_the_story_commands_the_tests_run() -> None:
    readme = (REPO / "README.md").read_text()
    for command in (STORY_BUILD, STORY_LIST, STORY_RUN, STORY_INVOKE):
        assert f"\n{command}\n" in readme, command


def story(command: str, port: int) -> list[str]:
    """A story command as words, on the free host port instead of 9000."""
    return shlex.split(command.replace(":9000", f":{port}").replace("9000:", f"{port}:"))


def test_story_4_3_builds_lists_runs_and_invokes_the_lambda_image_as_written(
    images: dict[str, str], chrome: ChromeSource, clone: Path, request: pytest.FixtureRequest
) -> None:
    # Arrange: `.env` copied from `.env.example`, as the quick start says; a free host port.
    shutil.copy2(clone / ".env.example", clone / ".env")
    port = free_port()

    # The story's tag is the one the suite's other tests run (built from the checkout, which may hold
    # uncommitted work): it is given back to that image afterwards.
    before = docker("image", "inspect", "--format", "{{.Id}}", images["lambda"])
    request.addfinalizer(lambda: docker("tag", before, images["lambda"]))

    # Act (AC4): docker build -t naver-sms-automation .
    build = story(STORY_BUILD, port)
    built = run([*build[:2], *offline_build_args(chrome), *build[2:]], clone)

    # Assert (AC4): built, and `docker images` lists it as latest.
    assert built.returncode == 0, built.stderr[-3000:]
    image_id = docker("image", "inspect", "--format", "{{.Id}}", "naver-sms-automation:latest")
    listed = run(story(STORY_LIST, port), clone).stdout.splitlines()
    assert listed[0].split()[:3] == ["REPOSITORY", "TAG", "IMAGE"]
    assert any(
        row.split()[:3] == ["naver-sms-automation", "latest", image_id.removeprefix("sha256:")[:12]]
        for row in listed[1:]
    ), listed
    assert docker("image", "inspect", "--format", "{{.Architecture}}", image_id) == "amd64"

    # Act (AC5): docker run --rm -p PORT:8080 --env-file .env naver-sms-automation:latest, then curl.
    container = subprocess.Popen(
        story(STORY_RUN, port), cwd=clone, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: port_open(port), 60, "the container's emulator")
        need_tool("curl")
        answer = run(story(STORY_INVOKE, port), clone, timeout=120)

        # Assert (AC5): the smoke event's expected body, with the version pyproject.toml gives.
        assert answer.returncode == 0, answer.stderr
        body = json.loads(answer.stdout)
        sample = json.loads((EVENTS / "smoke.json").read_text())
        assert sample["event"] == {"smoke": True}
        assert mismatch(sample, body) is None, body
        assert body["version"] == project_version()
    finally:
        running = docker("ps", "--quiet", "--filter", f"publish={port}", check=False).split()
        if running:
            docker("rm", "--force", *running, check=False)
        container.wait(30)


def test_story_1_4_python_m_src_runs_the_worker_in_its_image(images: dict[str, str]) -> None:
    # Arrange: the worker image; a NATS server the smoke starts beside it.
    image = images["worker"]

    # Act: the worker smoke with the story's `python -m src` in place of the image's CMD.
    result = run(
        [sys.executable, "-m", "scripts.smoke_worker", image, "default", *"python -m src".split()], REPO
    )

    # Assert (story 1.4): as the non-root user it became healthy, handled an event, stopped cleanly.
    assert result.returncode == 0, result.stderr
    assert f"started {image} python -m src as 10001:10001" in result.stderr
    assert "handled a published event" in result.stderr and "exit 0" in result.stderr


# What no build context may hold, whichever builder reads it.
NEVER_SENT = (".git", ".github", ".env", ".env.production", ".venv", ".cache", "build", "tests", "docs")


def copied_sources(dockerfile: Path) -> set[str]:
    """Every path a Dockerfile copies from its build context (COPY without --from)."""
    sources: set[str] = set()
    for instruction in DockerfileParser(str(dockerfile)).structure:
        if instruction["instruction"] != "COPY":
            continue
        words = instruction["value"].split()
        if any(word.startswith("--from") for word in words):
            continue
        sources.update(word.rstrip("/") for word in words[:-1] if not word.startswith("--"))
    return sources


def tracked(clone: Path, *paths: str) -> list[str]:
    """The files git tracks in the clone (under `paths`, when given)."""
    listed = subprocess.run(
        ["git", "ls-files", "--", *paths], cwd=clone, capture_output=True, text=True, check=True
    )
    return listed.stdout.split()


def test_the_legacy_builder_sends_only_what_the_images_copy(images: dict[str, str], clone: Path) -> None:
    # Arrange (story 4.3, any builder): the clone with what a developer's checkout also has, planted.
    planted = [clone / p for p in (".env.production", ".venv/secret", ".cache/secret", "build/secret")]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("PLANTED_SECRET=never-in-a-build-context\n")
    shutil.copy2(clone / ".env.example", clone / ".env")
    probe = clone.parent / "probe.Dockerfile"  # outside the context: it copies the context as it is sent
    probe.write_text(f"FROM {script_value('WORKER_BASE_IMAGE')}\nCOPY . /context\n")
    tag = f"naver-sms-test/context-probe:{free_port()}"

    # Act: the legacy builder (DOCKER_BUILDKIT=0 reads only the root .dockerignore), then list what it got.
    built = run(["docker", "build", "--file", str(probe), "--tag", tag, "."], clone, DOCKER_BUILDKIT="0")
    try:
        assert built.returncode == 0, built.stderr[-3000:]
        assert "Sending build context to Docker daemon" in built.stdout + built.stderr, "not legacy"
        sent = docker("run", "--rm", "--network", "none", tag, "find", "/context", "-mindepth", "1")
    finally:
        docker("rmi", "--force", tag, check=False)
        for path in planted:
            path.unlink()
    paths = {line.removeprefix("/context/") for line in sent.splitlines()}

    # Assert: nothing of the repository's secrets, venvs, caches, tests or docs; everything each
    # Dockerfile copies.
    assert not {p for p in paths if p.split("/")[0] in NEVER_SENT}, sorted(paths)
    assert not [p for p in paths if "__pycache__" in p or p.endswith(".pyc")]
    for dockerfile in (clone / "Dockerfile", clone / "docker" / "worker.Dockerfile"):
        # Every tracked file under what a Dockerfile copies (a folder's every file, not the folder alone).
        wanted = tracked(clone, *copied_sources(dockerfile))
        missing = sorted(path for path in wanted if path not in paths)
        assert wanted and not missing, f"{dockerfile.name} copies {missing}, which the context does not hold"
    # BuildKit reads a <Dockerfile>.dockerignore before the root one: none may come back to shadow it.
    assert [p for p in tracked(clone) if p.endswith(".dockerignore")] == [".dockerignore"]


def make(clone: Path, target: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run(["make", target], clone, **env)


def test_a_fresh_clone_builds_runs_and_smokes_the_lambda_image(images: dict[str, str], clone: Path) -> None:
    # Arrange: the README's knobs only (a free port, the container's name, in the background).
    need_tool("make")
    (clone / ".env").unlink(missing_ok=True)  # a user who never copied it: .env.example, with a warning
    shutil.rmtree(clone / ".cache", ignore_errors=True)
    port = free_port()
    name = f"naver-sms-first-contact-{port}"
    # An image name of its own, so the suite's naver-sms-automation:latest stays the checkout's.
    knobs = {
        "IMAGE": "lambda", "RIE_PORT": str(port), "RIE_CONTAINER": name, "RIE_DETACH": "1",
        "LAMBDA_IMAGE_NAME": name,
    }  # fmt: skip
    pin = (clone / "docker" / "chrome-for-testing.pin").read_text()

    # Act: make build (a pull that fails makes its own mirror from the machine's apt sources).
    built = make(clone, "build", **knobs)

    # Assert: built, from the committed pin where Chrome for Testing is reached; no tracked file rewritten.
    assert built.returncode == 0, built.stderr[-3000:]
    assert not dirty_tree(clone) and (clone / "docker" / "chrome-for-testing.pin").read_text() == pin
    if "the local stand-in" not in built.stderr:
        committed = read_pin(clone / "docker" / "chrome-for-testing.pin")
        pinned = f"{committed['CFT_VERSION']} ({committed['CFT_BROWSER']})"
        assert f"Chrome for Testing {pinned} from the Chrome for Testing site" in built.stderr
    try:
        # Act: run-rie in the background, then smoke.
        started = make(clone, "run-rie", **knobs)
        assert started.returncode == 0, started.stderr
        wait_until(lambda: port_open(port), 30, "the clone's RIE container")
        smoke = make(clone, "smoke", **knobs)

        # Assert: every sample in tests/events/ answered as expected.
        assert smoke.returncode == 0, smoke.stderr
        assert smoke_summary() in smoke.stderr
    finally:
        docker("rm", "--force", name, check=False)
        for tag in docker("images", "--format", "{{.Repository}}:{{.Tag}}", name, check=False).split():
            docker("rmi", tag, check=False)
