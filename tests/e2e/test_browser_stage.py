"""The Lambda image's browser stage: Chrome for Testing by version and sha256, its OS libraries, the gate.

Where Chrome for Testing comes from (the real site and the committed pin, or offline the local mirror):
the `chrome` fixture, tests/support/chrome.py. The Dockerfile is the production one either way, and both
browsers (full Chrome and the headless shell) are built by it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.support.chrome import BROWSERS, ChromeSource, pin_text, read_pin, url_sha256
from tests.support.procs import REPO, docker, script

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("browser", BROWSERS)
def test_the_archives_have_chrome_for_testings_layout_and_the_pinned_checksums(
    chrome: ChromeSource, tmp_path: Path, browser: str
) -> None:
    pin = chrome.pins[browser]
    version = pin["CFT_VERSION"]
    expected = {browser: "CFT_BROWSER_SHA256", "chromedriver": "CFT_DRIVER_SHA256"}
    for archive, key in expected.items():
        path = tmp_path / f"{archive}-linux64.zip"
        assert url_sha256(f"{chrome.url}/{version}/linux64/{archive}-linux64.zip", path) == pin[key]
        with zipfile.ZipFile(path) as zf:
            top = {name.split("/")[0] for name in zf.namelist()}
            assert top == {f"{archive}-linux64"}, "one top folder, as CfT ships"
            # The executable is named as the archive: chrome-linux64/chrome, chromedriver-linux64/chromedriver
            mode = zf.getinfo(f"{archive}-linux64/{archive}").external_attr >> 16
            assert mode & 0o111, f"{archive} keeps its run bit"


def in_image(image: str, command: str) -> str:
    return docker("run", "--rm", "--network", "none", "--entrypoint", "bash", image, "-c", command)


def test_the_browser_stage_is_laid_out_and_gated(images: dict[str, str], chrome: ChromeSource) -> None:
    image = images["lambda"]
    pin = chrome.pin
    assert in_image(image, "readlink -f /opt/chrome/chrome") == f"/opt/chrome/{chrome.browser}"
    assert pin["CFT_VERSION"] in in_image(image, "/opt/chrome/chrome --version")
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
    wrong.write_text(pin_text({**chrome.pin, "CFT_BROWSER_SHA256": "0" * 64}))
    before = docker("image", "inspect", "--format", "{{.Id}}", images["lambda"])
    result = script("build.sh", IMAGE="lambda", CFT_PIN=str(wrong), CFT_BASE_URL=chrome.url)
    assert result.returncode == 1
    log = (REPO / "build" / "lambda-build.log").read_text()
    assert f"/tmp/{chrome.browser}.zip: FAILED" in log and "checksum did NOT match" in log
    after = docker("image", "inspect", "--format", "{{.Id}}", images["lambda"])
    assert after == before, "a failed build leaves :latest where it was"


def browser_stage_context(tmp_path: Path, pin: str) -> Path:
    """A copy of the Lambda image's build context whose committed pin says `pin`."""
    context = tmp_path / "context"
    context.mkdir()
    for name in ("Dockerfile", ".dockerignore"):
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


@pytest.mark.parametrize("browser", BROWSERS)
def test_a_plain_docker_build_reads_the_pin_file(
    images: dict[str, str], chrome: ChromeSource, tmp_path: Path, browser: str
) -> None:
    pin = chrome.pins[browser]
    result = plain_build(browser_stage_context(tmp_path, pin_text(pin)), f"CFT_BASE_URL={chrome.url}")
    assert result.returncode == 0, result.stderr[-3000:]
    stage = "naver-sms-test/browser-stage:latest"
    try:
        # /opt/chrome/chrome is the browser: full Chrome's own executable, or a link to the shell.
        target = in_image(stage, "readlink -f /opt/chrome/chrome")
        assert target == f"/opt/chrome/{browser}"
        assert pin["CFT_VERSION"] in in_image(stage, "/opt/chrome/chrome --version")
        assert pin["CFT_VERSION"] in in_image(stage, "/opt/chrome/chromedriver --version")
    finally:
        docker("rmi", stage, check=False)


def test_a_plain_docker_build_of_a_pin_without_checksums_says_what_to_run(
    images: dict[str, str], tmp_path: Path
) -> None:
    version = read_pin(REPO / "docker" / "chrome-for-testing.pin")["CFT_VERSION"]
    pin = f"CFT_VERSION={version}\nCFT_BROWSER=chrome\nCFT_BROWSER_SHA256=\nCFT_DRIVER_SHA256=\n"
    result = plain_build(browser_stage_context(tmp_path, pin))
    assert result.returncode != 0
    assert (
        f"docker/chrome-for-testing.pin has no sha256 for Chrome for Testing {version} (chrome): "
        "run 'make pin-chrome'" in result.stderr
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
    # What full Chrome links (the headless shell needs a subset), then the archives' and fonts' tools.
    full_chrome = (
        *("gtk3", "atk", "at-spi2-atk", "cups-libs", "libXcomposite", "libXdamage", "libXrandr"),
        *("libxkbcommon", "pango", "alsa-lib", "libdrm", "mesa-libgbm", "nss", "dbus-libs"),
    )
    for package in (*full_chrome, "unzip", "fontconfig", font):
        assert package in install.split(), package
    assert clean == f"{bin_dir / manager} clean all"


def test_the_os_library_script_names_a_base_it_cannot_serve(tmp_path: Path) -> None:
    result = os_libs_script(tmp_path)
    assert result.returncode == 1
    assert "no apt-get, dnf, microdnf or yum in this base image" in result.stderr


@pytest.mark.parametrize("browser", BROWSERS)
def test_pin_chrome_records_the_version_and_both_checksums(
    chrome: ChromeSource, tmp_path: Path, browser: str
) -> None:
    pin = chrome.pins[browser]
    target = tmp_path / "chrome-for-testing.pin"
    target.write_text(
        "# a comment that stays\n"
        f"CFT_VERSION=1.2.3.4\nCFT_BROWSER={chrome.browser}\nCFT_BROWSER_SHA256=\nCFT_DRIVER_SHA256=\n"
    )
    result = script(
        "pin-chrome.sh",
        CFT_PIN=str(target),
        CFT_BASE_URL=chrome.url,
        CFT_VERSION=pin["CFT_VERSION"],
        CFT_BROWSER=browser,
    )
    assert result.returncode == 0, result.stderr
    assert read_pin(target) == pin
    assert target.read_text().startswith("# a comment that stays\n")
    assert "commit it" in result.stderr


def test_a_build_of_a_pin_without_checksums_stops_and_leaves_the_pin_alone(
    engine: None, chrome: ChromeSource, tmp_path: Path
) -> None:
    # Outside CI too: `make build` never pins (the pin is a tracked file); `make pin-chrome` does.
    target = tmp_path / "chrome-for-testing.pin"
    pin = {**chrome.pin, "CFT_BROWSER_SHA256": "", "CFT_DRIVER_SHA256": ""}
    target.write_text("# kept\n" + pin_text(pin))
    before = target.read_bytes()
    env = {"IMAGE": "lambda", "CFT_PIN": str(target), "CFT_BASE_URL": chrome.url, "CI": "false"}
    result = script("build.sh", **env)
    assert result.returncode == 1
    assert f"has no checksums for Chrome for Testing {chrome.pin['CFT_VERSION']}" in result.stderr
    assert "run 'make pin-chrome' and commit the pin" in result.stderr
    assert "downloading" not in result.stderr, "pin-chrome did not run"
    assert target.read_bytes() == before, "the pin file is byte-identical"
