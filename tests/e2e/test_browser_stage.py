"""The Lambda image's browser stage: Chrome for Testing by version and sha256, its OS libraries, the gate.

Where the official bases and Chrome for Testing are reachable (a laptop, GitHub's runner), these tests use
them and the committed pin. Only where a pull fails (`make build` then built on the stand-in base) do they
use the local mirror in Chrome for Testing's layout made of Debian's chromium (scripts/offline/cft-mirror.sh),
served as `make build` serves it. The Dockerfile is the production one either way.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.procs import REPO, docker, need_tool, offline_lib, script, serving, shell_constant

pytestmark = pytest.mark.docker
PIN_LINE = re.compile(r"^(CFT_VERSION|CFT_SHELL_SHA256|CFT_DRIVER_SHA256)=(.*)$")
ARCHIVES = {"chrome-headless-shell-linux64": "CFT_SHELL_SHA256", "chromedriver-linux64": "CFT_DRIVER_SHA256"}


def read_pin(path: Path) -> dict[str, str]:
    return dict(m.groups() for line in path.read_text().splitlines() if (m := PIN_LINE.match(line)))


@dataclass(frozen=True)
class ChromeSource:
    """Where the images' Chrome for Testing came from: a download site and the pin it was built with."""

    url: str
    pin: dict[str, str]


def lib_output(code: str) -> str:
    result = offline_lib(code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def chrome(images: dict[str, str]) -> Iterator[ChromeSource]:
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", images["lambda"])
    if "standin.inputs" not in labels:
        yield ChromeSource(shell_constant("CFT_SITE"), read_pin(REPO / "docker" / "chrome-for-testing.pin"))
        return
    need_tool("dpkg-deb")
    mirror = Path(lib_output('"$REPO_ROOT/scripts/offline/cft-mirror.sh"'))
    # Where build steps reach this host, found as `make build` finds it (never from IPAM's Gateway), on
    # its port: the same CFT_BASE_URL as the images' build, so builds here reuse its cache.
    host, port = lib_output("bridge_address"), lib_output('printf %s "$CFT_MIRROR_PORT"')
    url = f"http://{host}:{port}"
    command = ["python3", "-m", "http.server", "--bind", host, "--directory", str(mirror), str(port)]
    with serving(command, f"{url}/chrome-for-testing.pin", "the mirror's HTTP server"):
        yield ChromeSource(url, read_pin(mirror / "chrome-for-testing.pin"))


def test_the_archives_have_chrome_for_testings_layout_and_the_pinned_checksums(
    chrome: ChromeSource, tmp_path: Path
) -> None:
    version = chrome.pin["CFT_VERSION"]
    expected = {
        "chrome-headless-shell-linux64": "chrome-headless-shell",
        "chromedriver-linux64": "chromedriver",
    }
    for archive, executable in expected.items():
        path = tmp_path / f"{archive}.zip"
        urllib.request.urlretrieve(f"{chrome.url}/{version}/linux64/{archive}.zip", path)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == chrome.pin[ARCHIVES[archive]]
        with zipfile.ZipFile(path) as zf:
            assert {name.split("/")[0] for name in zf.namelist()} == {archive}, "one top folder, as CfT ships"
            mode = zf.getinfo(f"{archive}/{executable}").external_attr >> 16
            assert mode & 0o111, f"{executable} keeps its run bit"


def in_image(image: str, command: str) -> str:
    return docker("run", "--rm", "--network", "none", "--entrypoint", "bash", image, "-c", command)


def test_the_browser_stage_is_laid_out_and_gated(images: dict[str, str], chrome: ChromeSource) -> None:
    image = images["lambda"]
    pin = chrome.pin
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


def test_a_wrong_checksum_fails_the_build(
    images: dict[str, str], chrome: ChromeSource, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.pin"
    wrong.write_text(
        f"CFT_VERSION={chrome.pin['CFT_VERSION']}\nCFT_SHELL_SHA256={'0' * 64}\n"
        f"CFT_DRIVER_SHA256={chrome.pin['CFT_DRIVER_SHA256']}\n"
    )
    before = docker("image", "inspect", "--format", "{{.Id}}", images["lambda"])
    result = script("build.sh", IMAGE="lambda", CFT_PIN=str(wrong), CFT_BASE_URL=chrome.url)
    assert result.returncode == 1
    log = (REPO / "build" / "lambda-build.log").read_text()
    assert "/tmp/chrome-headless-shell.zip: FAILED" in log and "checksum did NOT match" in log
    after = docker("image", "inspect", "--format", "{{.Id}}", images["lambda"])
    assert after == before, "a failed build leaves :latest where it was"


def browser_stage_context(tmp_path: Path, pin: str) -> Path:
    """A copy of the Lambda image's build context whose committed pin says `pin`."""
    context = tmp_path / "context"
    context.mkdir()
    for name in ("Dockerfile", "Dockerfile.dockerignore"):
        shutil.copy2(REPO / name, context / name)
    shutil.copytree(REPO / "docker", context / "docker")
    (context / "scripts" / "lib").mkdir(parents=True)
    shutil.copy2(REPO / "scripts" / "lib" / "chrome.sh", context / "scripts" / "lib" / "chrome.sh")
    (context / "docker" / "chrome-for-testing.pin").write_text(pin)
    return context


def plain_build(context: Path, *build_args: str) -> subprocess.CompletedProcess[str]:
    """`docker build` as a user types it: no knob, no script, only the build args given."""
    args = [arg for value in build_args for arg in ("--build-arg", value)]
    return subprocess.run(
        ["docker", "buildx", "build", "--load", "--progress=plain", "--platform", "linux/amd64",
         "--target", "browser", "--tag", "naver-sms-test/browser-stage:latest", *args, str(context)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )  # fmt: skip


def test_a_plain_docker_build_reads_the_pin_file(
    images: dict[str, str], chrome: ChromeSource, tmp_path: Path
) -> None:
    pin = "".join(f"{key}={value}\n" for key, value in chrome.pin.items())
    result = plain_build(browser_stage_context(tmp_path, pin), f"CFT_BASE_URL={chrome.url}")
    assert result.returncode == 0, result.stderr[-3000:]
    try:
        version = docker("run", "--rm", "--network", "none", "--entrypoint", "/opt/chrome/chromedriver",
                         "naver-sms-test/browser-stage:latest", "--version")  # fmt: skip
        assert chrome.pin["CFT_VERSION"] in version
    finally:
        docker("rmi", "naver-sms-test/browser-stage:latest", check=False)


def test_a_plain_docker_build_of_a_pin_without_checksums_says_what_to_run(
    images: dict[str, str], tmp_path: Path
) -> None:
    version = read_pin(REPO / "docker" / "chrome-for-testing.pin")["CFT_VERSION"]
    pin = f"CFT_VERSION={version}\nCFT_SHELL_SHA256=\nCFT_DRIVER_SHA256=\n"
    result = plain_build(browser_stage_context(tmp_path, pin))
    assert result.returncode != 0
    assert (
        f"docker/chrome-for-testing.pin has no sha256 for Chrome for Testing {version}: run 'make pin-chrome'"
        in result.stderr
    )


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


def test_pin_chrome_records_the_version_and_both_checksums(chrome: ChromeSource, tmp_path: Path) -> None:
    pin = chrome.pin
    target = tmp_path / "chrome-for-testing.pin"
    target.write_text("# a comment that stays\nCFT_VERSION=1.2.3.4\nCFT_SHELL_SHA256=\nCFT_DRIVER_SHA256=\n")
    result = script(
        "pin-chrome.sh", CFT_PIN=str(target), CFT_BASE_URL=chrome.url, CFT_VERSION=pin["CFT_VERSION"]
    )
    assert result.returncode == 0, result.stderr
    assert read_pin(target) == pin
    assert target.read_text().startswith("# a comment that stays\n")
    assert "commit it" in result.stderr


def test_a_build_without_checksums_pins_them_first_outside_ci(
    images: dict[str, str], chrome: ChromeSource, tmp_path: Path
) -> None:
    pin = chrome.pin
    target = tmp_path / "chrome-for-testing.pin"
    target.write_text(f"CFT_VERSION={pin['CFT_VERSION']}\nCFT_SHELL_SHA256=\nCFT_DRIVER_SHA256=\n")
    env = {"IMAGE": "lambda", "CFT_PIN": str(target), "CFT_BASE_URL": chrome.url, "CI": "false"}
    result = script("build.sh", **env)
    assert result.returncode == 0, result.stderr
    assert read_pin(target) == pin, "the build recorded the checksums it then verified"
