"""The Chrome for Testing pin's scripts on a machine's first contact, against real programs.

- scripts/offline/cft-mirror.sh packs Debian packages built here with the real dpkg-deb, in the layouts
  Debian has shipped (since 156.0.8078.114-1~deb12u1 /usr/bin/chromedriver is a symlink);
- serve_cft_mirror runs beside a `docker` that answers as a dockerd started for the first time (its
  bridge's IPAM has a Subnet and no Gateway);
- scripts/pin-chrome.sh reads the current Stable from a versions JSON served over real HTTP.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.procs import free_port, need_tool, offline_lib, script, serving

VERSION = "156.0.8078.114"
DEBIAN_VERSION = f"{VERSION}-1~deb12u1"


def executable(path: Path, says: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{says}'\n")
    path.chmod(0o755)


def build_deb(out: Path, package: str, root: Path) -> None:
    control = root / "DEBIAN" / "control"
    control.parent.mkdir(parents=True, exist_ok=True)
    control.write_text(
        f"Package: {package}\nVersion: {DEBIAN_VERSION}\nArchitecture: amd64\n"
        f"Maintainer: tests <tests@example.invalid>\nDescription: a stand-in {package}\n"
    )
    subprocess.run(
        [
            "dpkg-deb",
            "--build",
            "--root-owner-group",
            str(root),
            str(out / f"{package}_{DEBIAN_VERSION}_amd64.deb"),
        ],
        check=True,
        capture_output=True,
    )


def chromium_debs(tmp_path: Path, *, driver_symlinked: bool, driver_says: str = VERSION) -> Path:
    """Debian's three chromium packages, with executables that report versions as the real ones do."""
    need_tool("dpkg-deb")
    out = tmp_path / "debs"
    out.mkdir()
    browser = tmp_path / "chromium"
    executable(browser / "usr/lib/chromium/chromium", f"Chromium {VERSION} built on Debian GNU/Linux 12")
    (browser / "usr/lib/chromium/resources.pak").write_bytes(b"pak")
    build_deb(out, "chromium", browser)
    common = tmp_path / "chromium-common"
    (common / "usr/share/chromium").mkdir(parents=True)
    (common / "usr/share/chromium/initial_bookmarks.html").write_text("<html></html>")
    build_deb(out, "chromium-common", common)
    driver = tmp_path / "chromium-driver"
    says = f"ChromeDriver {driver_says} (0123abcd-refs/branch-heads/7204@{{#1}})"
    if driver_symlinked:
        executable(driver / "usr/lib/chromium/chromedriver", says)
        (driver / "usr/bin").mkdir(parents=True)
        (driver / "usr/bin/chromedriver").symlink_to("../lib/chromium/chromedriver")
    else:
        executable(driver / "usr/bin/chromedriver", says)
    build_deb(out, "chromium-driver", driver)
    return out


def make_mirror(debs: Path, mirror: Path) -> subprocess.CompletedProcess[str]:
    return script("offline/cft-mirror.sh", CHROMIUM_DEBS=str(debs), CFT_MIRROR_DIR=str(mirror))


@pytest.mark.parametrize("driver_symlinked", [True, False], ids=["symlinked-driver", "driver-in-bin"])
def test_the_mirror_packs_the_real_driver_whatever_the_package_layout(
    tmp_path: Path, driver_symlinked: bool
) -> None:
    mirror = tmp_path / "mirror"
    result = make_mirror(chromium_debs(tmp_path, driver_symlinked=driver_symlinked), mirror)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(mirror)
    pin = (mirror / "chrome-for-testing.pin").read_text()
    assert f"CFT_VERSION={VERSION}\n" in pin
    folder = mirror / VERSION / "linux64"
    with zipfile.ZipFile(folder / "chromedriver-linux64.zip") as zf:
        info = zf.getinfo("chromedriver-linux64/chromedriver")
        assert info.external_attr >> 16 & 0o111, "the driver keeps its run bit"
        assert b"ChromeDriver " + VERSION.encode() in zf.read(info), "the file itself, not a link to it"
    with zipfile.ZipFile(folder / "chrome-headless-shell-linux64.zip") as zf:
        names = set(zf.namelist())
        assert "chrome-headless-shell-linux64/chrome-headless-shell" in names
        assert "chrome-headless-shell-linux64/chromedriver" not in names, "the driver has its own archive"
    for archive in ("chrome-headless-shell-linux64", "chromedriver-linux64"):
        digest = hashlib.sha256((folder / f"{archive}.zip").read_bytes()).hexdigest()
        key = "CFT_SHELL_SHA256" if archive.startswith("chrome-headless") else "CFT_DRIVER_SHA256"
        assert f"{key}={digest}\n" in pin


def test_the_mirror_is_the_same_bytes_when_made_again(tmp_path: Path) -> None:
    # A fresh clone makes its mirror anew: the same packages must give the same checksums, or the
    # build cache of every earlier build is lost.
    debs = chromium_debs(tmp_path, driver_symlinked=True)
    pins = []
    for name in ("first", "second"):
        assert make_mirror(debs, tmp_path / name).returncode == 0
        pins.append((tmp_path / name / "chrome-for-testing.pin").read_text())
    assert pins[0] == pins[1]


def test_the_mirror_refuses_a_driver_that_reports_another_version(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    result = make_mirror(chromium_debs(tmp_path, driver_symlinked=True, driver_says="150.0.7871.100"), mirror)
    assert result.returncode == 1
    assert "chromedriver in chromedriver-linux64.zip reports 'ChromeDriver 150.0.7871.100" in result.stderr
    assert f"not {VERSION}" in result.stderr
    assert not (mirror / "chrome-for-testing.pin").exists(), "an unchecked mirror is never finished"


def test_the_mirror_refuses_a_package_without_its_driver(tmp_path: Path) -> None:
    debs = chromium_debs(tmp_path, driver_symlinked=True)
    (debs / f"chromium-driver_{DEBIAN_VERSION}_amd64.deb").unlink()
    result = make_mirror(debs, tmp_path / "mirror")
    assert result.returncode == 1 and "chromedriver" in result.stderr


# What `docker network inspect bridge` prints on a dockerd's first start (Debian's docker.io 20.10):
# IPAM has the Subnet only. The bridge is named `lo` here so that its address is one this test may use.
FIRST_START_BRIDGE = [
    {
        "Name": "bridge",
        "Driver": "bridge",
        "IPAM": {"Driver": "default", "Options": None, "Config": [{"Subnet": "172.17.0.0/16"}]},
        "Options": {
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.name": "lo",
        },
    }
]


@pytest.fixture
def first_start_docker(tmp_path: Path) -> dict[str, str]:
    need_tool("ip")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answer = tmp_path / "bridge.json"
    answer.write_text(json.dumps(FIRST_START_BRIDGE))
    fake = bin_dir / "docker"
    fake.write_text(
        f'#!/bin/sh\n[ "$*" = "network inspect bridge" ] && exec cat {answer}\n'
        'echo "unexpected: $*" >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_the_mirror_is_served_on_the_bridge_when_ipam_reports_no_gateway(
    tmp_path: Path, first_start_docker: dict[str, str]
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "chrome-for-testing.pin").write_text(f"CFT_VERSION={VERSION}\n")
    port = free_port()
    result = offline_lib(
        'serve_cft_mirror && printf "%s|" "$CFT_BASE_URL" "$CFT_PIN" && '
        'curl -fsS "$CFT_BASE_URL/chrome-for-testing.pin"',
        **first_start_docker,
        CFT_MIRROR_DIR=str(mirror),
        CFT_MIRROR_PORT=str(port),
    )
    assert result.returncode == 0, result.stderr
    url, pin, served = result.stdout.split("|")
    assert url == f"http://127.0.0.1:{port}" and pin == str(mirror / "chrome-for-testing.pin")
    assert served == f"CFT_VERSION={VERSION}\n"


def test_a_bridge_without_an_address_is_named(first_start_docker: dict[str, str], tmp_path: Path) -> None:
    answer = json.loads(json.dumps(FIRST_START_BRIDGE))
    answer[0]["Options"]["com.docker.network.bridge.name"] = "nosuchbridge0"
    (tmp_path / "bridge.json").write_text(json.dumps(answer))
    result = offline_lib("bridge_address", **first_start_docker)
    assert result.returncode == 1
    assert "Docker's bridge interface nosuchbridge0 has no IPv4 address" in result.stderr


STABLE = "199.0.9901.7"  # a Stable of the stand-in site, not the pin


def versions_json(version: str, platforms: tuple[str, ...] = ("linux64", "mac-arm64")) -> dict[str, object]:
    """last-known-good-versions-with-downloads.json's shape: channels → version + per-platform URLs."""
    downloads = {
        name: [
            {"platform": p, "url": f"https://example.invalid/{version}/{p}/{name}-{p}.zip"} for p in platforms
        ]
        for name in ("chrome", "chromedriver", "chrome-headless-shell")
    }
    channel = {"version": version, "revision": "1500000", "downloads": downloads}
    return {"timestamp": "2026-11-30T10:09:47.123Z", "channels": {"Stable": {"channel": "Stable", **channel}}}


@dataclass(frozen=True)
class Site:
    root: Path
    url: str


@pytest.fixture
def cft_site(tmp_path: Path) -> Iterator[Site]:
    """A site in Chrome for Testing's layout over real HTTP: archives under VERSION/linux64/."""
    site = tmp_path / "site"
    for archive in ("chrome-headless-shell-linux64", "chromedriver-linux64"):
        path = site / STABLE / "linux64" / f"{archive}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(4096))
    (site / "versions.json").write_text(json.dumps(versions_json(STABLE)))
    port = free_port()
    command = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(site), str(port)]
    with serving(command, f"http://127.0.0.1:{port}/versions.json", "the Chrome for Testing stand-in"):
        yield Site(site, f"http://127.0.0.1:{port}")


def pin_chrome(site: Site, pin: Path, versions: str, **env: str) -> subprocess.CompletedProcess[str]:
    return script(
        "pin-chrome.sh",
        CFT_PIN=str(pin),
        CFT_BASE_URL=site.url,
        CFT_VERSIONS_URL=f"{site.url}/{versions}",
        **env,
    )


def test_pin_chrome_without_a_version_pins_the_current_stable(cft_site: Site, tmp_path: Path) -> None:
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text("# a comment that stays\nCFT_VERSION=1.2.3.4\nCFT_SHELL_SHA256=\nCFT_DRIVER_SHA256=\n")
    result = pin_chrome(cft_site, pin, "versions.json", CFT_VERSION="")
    assert result.returncode == 0, result.stderr
    folder = cft_site.root / STABLE / "linux64"
    sums = [
        hashlib.sha256((folder / f"{a}-linux64.zip").read_bytes()).hexdigest()
        for a in ("chrome-headless-shell", "chromedriver")
    ]
    assert pin.read_text() == (
        f"# a comment that stays\nCFT_VERSION={STABLE}\n"
        f"CFT_SHELL_SHA256={sums[0]}\nCFT_DRIVER_SHA256={sums[1]}\n"
    )


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("<html>captive portal</html>", "not Chrome for Testing's versions JSON"),
        (
            json.dumps({"channels": {"Beta": {}}}),
            "not Chrome for Testing's versions JSON (KeyError: 'Stable')",
        ),
        (json.dumps(versions_json(STABLE, platforms=("mac-arm64",))), f"Stable {STABLE} has no linux64"),
        (json.dumps(versions_json("199.0.9901.7; rm -rf ~")), "is not a Chrome for Testing version"),
    ],
)
def test_pin_chrome_refuses_an_answer_that_is_not_a_stable_version(
    cft_site: Site, tmp_path: Path, answer: str, message: str
) -> None:
    (cft_site.root / "odd.json").write_text(answer)
    pin = tmp_path / "chrome-for-testing.pin"
    before = "CFT_VERSION=1.2.3.4\nCFT_SHELL_SHA256=\nCFT_DRIVER_SHA256=\n"
    pin.write_text(before)
    result = pin_chrome(cft_site, pin, "odd.json", CFT_VERSION="")
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert pin.read_text() == before, "a refused answer changes nothing"


def test_pin_chrome_names_a_version_chrome_for_testing_never_published(
    cft_site: Site, tmp_path: Path
) -> None:
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text("CFT_VERSION=1.2.3.4\n")
    result = pin_chrome(cft_site, pin, "versions.json", CFT_VERSION="150.0.7871.100")
    assert result.returncode == 1
    assert "download of chrome-headless-shell-linux64 150.0.7871.100" in result.stderr
    assert "is 150.0.7871.100 a Chrome for Testing build?" in result.stderr
    assert pin.read_text() == "CFT_VERSION=1.2.3.4\n"
