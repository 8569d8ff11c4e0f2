"""The Lambda image's browser stage: Chrome for Testing by version and sha256, its OS libraries, the gate.

Offline, `make build` builds this stage on the stand-in base from a local mirror in Chrome for Testing's
layout made of Debian's chromium (scripts/offline/cft-mirror.sh); the Dockerfile is the production one.
"""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import REPO, docker, free_port, need_tool, script, serving

pytestmark = pytest.mark.docker
PIN_LINE = re.compile(r"^(CFT_VERSION|CFT_SHELL_SHA256|CFT_DRIVER_SHA256)=(.*)$")


def read_pin(path: Path) -> dict[str, str]:
    return dict(m.groups() for line in path.read_text().splitlines() if (m := PIN_LINE.match(line)))


@pytest.fixture(scope="module")
def mirror(engine: None) -> Path:
    need_tool("dpkg-deb")
    result = subprocess.run(
        ["bash", "scripts/offline/cft-mirror.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def in_image(image: str, command: str) -> str:
    return docker("run", "--rm", "--network", "none", "--entrypoint", "bash", image, "-c", command)


def test_the_mirror_has_chrome_for_testings_layout(mirror: Path) -> None:
    pin = read_pin(mirror / "chrome-for-testing.pin")
    assert re.fullmatch(r"\d+(\.\d+){3}", pin["CFT_VERSION"])
    folder = mirror / pin["CFT_VERSION"] / "linux64"
    expected = {
        "chrome-headless-shell-linux64": "chrome-headless-shell",
        "chromedriver-linux64": "chromedriver",
    }
    for archive, executable in expected.items():
        with zipfile.ZipFile(folder / f"{archive}.zip") as zf:
            assert {name.split("/")[0] for name in zf.namelist()} == {archive}, "one top folder, as CfT ships"
            mode = zf.getinfo(f"{archive}/{executable}").external_attr >> 16
            assert mode & 0o111, f"{executable} keeps its run bit"


def test_the_browser_stage_is_laid_out_and_gated(images: dict[str, str], mirror: Path) -> None:
    image = images["lambda"]
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", image)
    standin = "standin.inputs" in labels  # built on the offline stand-in base, from the local mirror
    pin = read_pin(
        mirror / "chrome-for-testing.pin" if standin else REPO / "docker" / "chrome-for-testing.pin"
    )
    assert in_image(image, "readlink /opt/chrome/chrome") == "/opt/chrome/chrome-headless-shell"
    assert pin["CFT_VERSION"] in in_image(image, "/opt/chrome/chromedriver --version")
    assert in_image(image, "ls /tmp; ls /opt/chrome/*.zip 2>/dev/null || true") == "", "no archive stays"
    assert in_image(image, "fc-list :lang=ko family"), "a font with Hangul"
    # The build-time gate, again on the finished image: every library found, Korean, one session.
    gate = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "--tmpfs",
            "/tmp:rw,exec",
            "--volume",
            f"{REPO / 'docker' / 'check-browser.sh'}:/gate.sh:ro",
            "--env",
            "HOME=/tmp",
            "--env",
            "PYTHONPATH=/var/task",
            "--entrypoint",
            "bash",
            image,
            "/gate.sh",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert gate.returncode == 0, gate.stderr
    assert "every library found" in gate.stdout and "headless session: " in gate.stdout


@pytest.fixture
def served_mirror(mirror: Path) -> Iterator[str]:
    """The mirror over HTTP where build steps reach this host (the default bridge's gateway)."""
    gateway = docker("network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}")
    port = free_port()
    url = f"http://{gateway}:{port}"
    command = ["python3", "-m", "http.server", "--bind", gateway, "--directory", str(mirror), str(port)]
    with serving(command, f"{url}/chrome-for-testing.pin", "the mirror's HTTP server"):
        yield url


def test_a_wrong_checksum_fails_the_build(
    images: dict[str, str], mirror: Path, served_mirror: str, tmp_path: Path
) -> None:
    pin = read_pin(mirror / "chrome-for-testing.pin")
    wrong = tmp_path / "wrong.pin"
    wrong.write_text(
        f"CFT_VERSION={pin['CFT_VERSION']}\nCFT_SHELL_SHA256={'0' * 64}\n"
        f"CFT_DRIVER_SHA256={pin['CFT_DRIVER_SHA256']}\n"
    )
    before = docker("image", "inspect", "--format", "{{.Id}}", images["lambda"])
    result = script("build.sh", IMAGE="lambda", CFT_PIN=str(wrong), CFT_BASE_URL=served_mirror)
    assert result.returncode == 1
    log = (REPO / "build" / "lambda-build.log").read_text()
    assert "/tmp/shell.zip: FAILED" in log and "checksum did NOT match" in log
    after = docker("image", "inspect", "--format", "{{.Id}}", images["lambda"])
    assert after == before, "a failed build leaves :latest where it was"


PACKAGE_MANAGERS = {
    # Amazon Linux 2 (python:3.11), Amazon Linux 2023 (python:3.12+; dnf or microdnf), the stand-in.
    "yum": "google-noto-sans-korean-fonts",
    "dnf": "google-noto-sans-cjk-fonts",
    "microdnf": "google-noto-sans-cjk-fonts",
}


def os_libs_script(path: Path) -> subprocess.CompletedProcess[str]:
    """docker/browser-os-libs.sh with nothing on PATH but the folder given."""
    script_path = str(REPO / "docker" / "browser-os-libs.sh")
    return subprocess.run(
        ["/bin/sh", script_path], env={"PATH": str(path)}, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(("manager", "font"), PACKAGE_MANAGERS.items())
def test_the_os_library_script_speaks_each_package_manager(manager: str, font: str, tmp_path: Path) -> None:
    # Amazon Linux cannot run here: a stand-in package manager records what it was asked to install.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / manager).write_text(f'#!/bin/sh\necho "$0 $*" >> {calls}\n')
    (bin_dir / manager).chmod(0o755)
    os.symlink("/bin/rm", bin_dir / "rm")
    result = os_libs_script(bin_dir)
    assert result.returncode == 0, result.stderr
    install, clean = calls.read_text().splitlines()
    assert install.startswith(f"{bin_dir / manager} install -y")
    for package in ("nss", "mesa-libgbm", "dbus-libs", "unzip", "fontconfig", font):
        assert package in install.split()
    assert clean == f"{bin_dir / manager} clean all"


def test_the_os_library_script_names_a_base_it_cannot_serve(tmp_path: Path) -> None:
    result = os_libs_script(tmp_path)
    assert result.returncode == 1
    assert "no apt-get, dnf, microdnf or yum in this base image" in result.stderr


def test_pin_chrome_records_the_version_and_both_checksums(
    mirror: Path, served_mirror: str, tmp_path: Path
) -> None:
    pin = read_pin(mirror / "chrome-for-testing.pin")
    target = tmp_path / "chrome-for-testing.pin"
    target.write_text("# a comment that stays\nCFT_VERSION=1.2.3.4\nCFT_SHELL_SHA256=\nCFT_DRIVER_SHA256=\n")
    result = script(
        "pin-chrome.sh", CFT_PIN=str(target), CFT_BASE_URL=served_mirror, CFT_VERSION=pin["CFT_VERSION"]
    )
    assert result.returncode == 0, result.stderr
    assert read_pin(target) == pin
    assert target.read_text().startswith("# a comment that stays\n")
    assert "commit it" in result.stderr


def test_a_build_without_checksums_pins_them_first_outside_ci(
    images: dict[str, str], mirror: Path, served_mirror: str, tmp_path: Path
) -> None:
    pin = read_pin(mirror / "chrome-for-testing.pin")
    target = tmp_path / "chrome-for-testing.pin"
    target.write_text(f"CFT_VERSION={pin['CFT_VERSION']}\nCFT_SHELL_SHA256=\nCFT_DRIVER_SHA256=\n")
    env = {"IMAGE": "lambda", "CFT_PIN": str(target), "CFT_BASE_URL": served_mirror, "CI": "false"}
    result = script("build.sh", **env)
    assert result.returncode == 0, result.stderr
    assert read_pin(target) == pin, "the build recorded the checksums it then verified"
