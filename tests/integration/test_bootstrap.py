"""scripts/bootstrap.sh run as a user who is not root: it installs nothing and names the one command that
installs what is missing with the package manager it finds, and says when the Docker engine refuses them."""

from __future__ import annotations

import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import REPO, need, need_root, need_tool

NOBODY = "65534"
# What bootstrap itself calls besides the package managers and the programs it looks for.
BASICS = ("bash", "sed", "tr", "grep", "awk", "dirname", "id", "uname")


@pytest.fixture
def machine() -> Iterator[Path]:
    """A copy of what bootstrap reads, and an empty bin folder, that any user can read: pytest's own tmp
    folders and CI's checkout are their owner's only."""
    need_root("setpriv, to run bootstrap as another user")
    need_tool("setpriv")
    root = Path(tempfile.mkdtemp(prefix="bootstrap-"))
    try:
        shutil.copytree(REPO / "scripts", root / "repo" / "scripts")
        (root / "repo" / "docker").mkdir()
        for name in ("Dockerfile", "docker/worker.Dockerfile"):
            shutil.copy(REPO / name, root / "repo" / name)
        (root / "bin").mkdir()
        for name in BASICS:
            (root / "bin" / name).symlink_to(need_tool(name))
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
        yield root
    finally:
        shutil.rmtree(root)


def stand_in(machine: Path, name: str) -> Path:
    """A program that exists and, when run, leaves a mark: bootstrap must only name it."""
    path = machine / "bin" / name
    path.write_text(f"#!/bin/sh\ntouch {machine}/ran-{name}\n")
    path.chmod(0o755)
    return path


def bootstrap_as_nobody(machine: Path, task: str = "test") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
         "env", "-i", f"PATH={machine}/bin", f"HOME={machine}", "NO_COLOR=1",
         "bash", f"{machine}/repo/scripts/bootstrap.sh", task],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("manager", "command"),
    [
        ("apt-get", "sudo apt-get install -y chromium chromium-driver docker.io docker-registry"),
        ("dnf", "sudo dnf install -y chromium chromedriver moby-engine docker-buildx docker-compose"),
        ("pacman", "sudo pacman -S --needed chromium docker docker-buildx docker-compose"),
        ("zypper", "sudo zypper install -y chromium chromedriver docker docker-buildx docker-compose"),
        ("brew", "brew install --cask docker-desktop"),
    ],
)
def test_a_user_is_given_the_one_command_for_their_package_manager(
    machine: Path, manager: str, command: str
) -> None:
    stand_in(machine, manager)
    result = bootstrap_as_nobody(machine)
    assert result.returncode == 1, result.stderr
    assert f"run '{command}'" in result.stderr
    # Whatever the manager has no package for is named, never silently left out.
    assert "docker-registry" in result.stderr
    if manager == "brew":  # no browser cask that passes Gatekeeper: Chrome for Testing, by name
        assert "Chrome for Testing (npx @puppeteer/browsers install chrome@stable" in result.stderr
    assert not (machine / f"ran-{manager}").exists(), "bootstrap ran the package manager as a user"


def test_a_machine_without_a_known_package_manager_says_what_is_missing(machine: Path) -> None:
    result = bootstrap_as_nobody(machine, "browser")
    assert result.returncode == 1
    assert "missing Chromium, chromedriver" in result.stderr
    assert "no apt-get, dnf, pacman, zypper or brew here" in result.stderr


def test_a_user_outside_the_docker_group_is_told_how_to_join_it(machine: Path) -> None:
    socket = Path("/var/run/docker.sock")
    need(socket.is_socket(), "a Docker engine on /var/run/docker.sock (make docker-engine)")
    need(
        not socket.stat().st_mode & stat.S_IWOTH and socket.stat().st_uid != int(NOBODY),
        "the Docker socket refuses other users (here anyone may write to it)",
    )
    (machine / "bin" / "docker").symlink_to(need_tool("docker"))
    for name in ("chromium", "chromedriver", "docker-registry"):
        stand_in(machine, name)
    result = bootstrap_as_nobody(machine)
    assert result.returncode == 1
    assert "the Docker engine refuses" in result.stderr
    assert "'sudo usermod -aG docker $USER', then log in again" in result.stderr
    # Nothing else is what it lacks: the stand-ins count as the browser and the registry.
    assert "Chromium" not in result.stderr and "docker-registry" not in result.stderr
    assert not list(machine.glob("ran-*"))
