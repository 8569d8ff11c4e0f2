"""The Chrome for Testing pin's scripts on a machine's first contact, against real programs.

- scripts/lib/chrome.sh parses the committed pin and refuses a pin that names no known browser;
- scripts/offline/cft-mirror.sh packs Debian packages built here with the real dpkg-deb, in the layouts
  Debian has shipped (since 156.0.8078.114-1~deb12u1 /usr/bin/chromedriver is a symlink), as both browser
  archives;
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

from tests.support.procs import REPO, free_port, need_tool, offline_lib, repo_env, script, serving

VERSION = "156.0.8078.114"
DEBIAN_VERSION = f"{VERSION}-1~deb12u1"
BROWSERS = ("chrome", "chrome-headless-shell")
PINNED = "CFT_VERSION=1.2.3.4\nCFT_BROWSER={}\nCFT_BROWSER_SHA256=\nCFT_DRIVER_SHA256=\n"


def read_pin(pin: Path) -> subprocess.CompletedProcess[str]:
    """read_cft_pin on `pin`: its four values joined by |, or its error."""
    return offline_lib(
        'read_cft_pin && printf "%s|" "$CFT_VERSION" "$CFT_BROWSER" '
        '"$CFT_BROWSER_SHA256" "$CFT_DRIVER_SHA256"',
        CFT_PIN=str(pin),
    )


def test_the_committed_pin_names_a_browser_and_both_checksums() -> None:
    result = read_pin(REPO / "docker" / "chrome-for-testing.pin")
    assert result.returncode == 0, result.stderr
    version, browser, browser_sha, driver_sha, _ = result.stdout.split("|")
    assert version and browser in BROWSERS
    assert browser_sha and driver_sha, "a connected machine builds the committed pin on the first try"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CFT_BROWSER=chromium\n", "CFT_BROWSER='chromium' is not a Chrome for Testing browser"),
        ("CFT_BROWSER=\n", "CFT_BROWSER='' is not a Chrome for Testing browser"),
        ("CFT_VERSION=1.2.3.4\nCFT_BROWSER_SHA256=\n", "names no browser: add CFT_BROWSER=chrome"),
        ("CFT_VERSION=1.2.3.4\nCFT_SHELL_SHA256=\n", "CFT_SHELL_SHA256 is now CFT_BROWSER_SHA256"),
        # A merge that kept both sides' line: the last would pair one browser with another's checksum.
        ("CFT_BROWSER=chrome\nCFT_BROWSER=chrome-headless-shell\n", "CFT_BROWSER is given a second time"),
    ],
    ids=["unknown", "empty", "missing", "old-key", "twice"],
)
def test_read_cft_pin_refuses_a_pin_without_a_known_browser(tmp_path: Path, text: str, message: str) -> None:
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text(text)
    result = read_pin(pin)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert str(pin) in result.stderr, "the error names the file"


def test_a_pin_checked_out_with_crlf_line_endings_reads_the_same(tmp_path: Path) -> None:
    committed = (REPO / "docker" / "chrome-for-testing.pin").read_text()
    crlf = tmp_path / "chrome-for-testing.pin"
    crlf.write_bytes(committed.replace("\n", "\r\n").encode())
    read = read_pin(crlf)
    assert read.returncode == 0, read.stderr
    assert read.stdout == read_pin(REPO / "docker" / "chrome-for-testing.pin").stdout


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
    folder = mirror / VERSION / "linux64"
    with zipfile.ZipFile(folder / "chromedriver-linux64.zip") as zf:
        info = zf.getinfo("chromedriver-linux64/chromedriver")
        assert info.external_attr >> 16 & 0o111, "the driver keeps its run bit"
        assert b"ChromeDriver " + VERSION.encode() in zf.read(info), "the file itself, not a link to it"
    driver_sha = hashlib.sha256((folder / "chromedriver-linux64.zip").read_bytes()).hexdigest()
    for browser in BROWSERS:
        # Either browser's archive, in its own layout: BROWSER-linux64/BROWSER, runnable.
        with zipfile.ZipFile(folder / f"{browser}-linux64.zip") as zf:
            names = set(zf.namelist())
            info = zf.getinfo(f"{browser}-linux64/{browser}")
            assert info.external_attr >> 16 & 0o111, f"{browser} keeps its run bit"
            assert {name.split("/")[0] for name in names} == {f"{browser}-linux64"}
            assert f"{browser}-linux64/chromedriver" not in names, "the driver has its own archive"
        browser_sha = hashlib.sha256((folder / f"{browser}-linux64.zip").read_bytes()).hexdigest()
        pin = (mirror / f"{browser}.pin").read_text()
        assert (
            f"CFT_VERSION={VERSION}\nCFT_BROWSER={browser}\n"
            f"CFT_BROWSER_SHA256={browser_sha}\nCFT_DRIVER_SHA256={driver_sha}\n"
        ) in pin


def test_a_mirror_made_before_pins_named_their_browser_is_made_again(tmp_path: Path) -> None:
    # What the earlier script left: one chrome-for-testing.pin (no CFT_BROWSER), no chrome-linux64.zip.
    mirror = tmp_path / "mirror"
    old = mirror / VERSION / "linux64"
    old.mkdir(parents=True)
    (old / "chrome-headless-shell-linux64.zip").write_bytes(b"old")
    (mirror / "chrome-for-testing.pin").write_text(
        f"CFT_VERSION={VERSION}\nCFT_SHELL_SHA256={'a' * 64}\nCFT_DRIVER_SHA256={'b' * 64}\n"
    )
    result = make_mirror(chromium_debs(tmp_path, driver_symlinked=True), mirror)
    assert result.returncode == 0, result.stderr
    assert "making a Chrome for Testing mirror" in result.stderr
    assert sorted(p.name for p in mirror.glob("*.pin")) == ["chrome-headless-shell.pin", "chrome.pin"]
    assert (old / "chrome-linux64.zip").is_file()
    assert zipfile.is_zipfile(old / "chrome-headless-shell-linux64.zip"), "the old archive is packed anew"
    again = make_mirror(tmp_path / "no-debs-needed", mirror)
    assert again.returncode == 0 and "making" not in again.stderr, "a finished mirror is reused"


def test_the_mirror_is_the_same_bytes_when_made_again(tmp_path: Path) -> None:
    # A fresh clone makes its mirror anew: the same packages must give the same checksums, or the
    # build cache of every earlier build is lost.
    debs = chromium_debs(tmp_path, driver_symlinked=True)
    pins = []
    for name in ("first", "second"):
        assert make_mirror(debs, tmp_path / name).returncode == 0
        pins.append([(tmp_path / name / f"{browser}.pin").read_text() for browser in BROWSERS])
    assert pins[0] == pins[1]


def test_the_mirror_is_the_same_bytes_whatever_the_umask(tmp_path: Path) -> None:
    # A user with umask 002 (Debian's user-private groups) and the same build under sudo (022).
    debs = chromium_debs(tmp_path, driver_symlinked=True)
    pins = []
    for umask in ("022", "002"):
        mirror = tmp_path / f"umask-{umask}"
        made = subprocess.run(
            ["bash", "-c", f'umask {umask} && exec scripts/offline/cft-mirror.sh "{mirror}"'],
            cwd=REPO, env=repo_env(CHROMIUM_DEBS=str(debs)), capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        pins.append([(mirror / f"{browser}.pin").read_text() for browser in BROWSERS])
    assert pins[0] == pins[1]


def test_the_mirror_refuses_a_driver_that_reports_another_version(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    result = make_mirror(chromium_debs(tmp_path, driver_symlinked=True, driver_says="150.0.7871.100"), mirror)
    assert result.returncode == 1
    assert "chromedriver in chromedriver-linux64.zip reports 'ChromeDriver 150.0.7871.100" in result.stderr
    assert f"not {VERSION}" in result.stderr
    assert not list(mirror.glob("*.pin")), "an unchecked mirror is never finished"


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


@pytest.mark.parametrize("browser", BROWSERS)
def test_the_mirror_is_served_on_the_bridge_when_ipam_reports_no_gateway(
    tmp_path: Path, first_start_docker: dict[str, str], browser: str
) -> None:
    # A finished mirror (both pins), and a committed pin naming `browser`: the build gets that one's pin.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for kind in BROWSERS:
        (mirror / f"{kind}.pin").write_text(f"CFT_VERSION={VERSION}\nCFT_BROWSER={kind}\n")
    committed = tmp_path / "chrome-for-testing.pin"
    committed.write_text(PINNED.format(browser))
    port = free_port()
    result = offline_lib(
        'serve_cft_mirror && printf "%s|" "$CFT_BASE_URL" "$CFT_PIN" && '
        'curl -fsS "$CFT_BASE_URL/${CFT_PIN##*/}"',
        **first_start_docker,
        CFT_PIN=str(committed),
        CFT_MIRROR_DIR=str(mirror),
        CFT_MIRROR_PORT=str(port),
    )
    assert result.returncode == 0, result.stderr
    url, pin, served = result.stdout.split("|")
    assert url == f"http://127.0.0.1:{port}" and pin == str(mirror / f"{browser}.pin")
    assert served == f"CFT_VERSION={VERSION}\nCFT_BROWSER={browser}\n"


def test_a_mirror_server_that_could_not_bind_is_noticed(tmp_path: Path) -> None:
    # Another build's server of the same mirror (the same bytes) holds the port: ours cannot bind, and
    # borrowing theirs would fail this build when that one ends.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for kind in BROWSERS:
        (mirror / f"{kind}.pin").write_text(f"CFT_VERSION={VERSION}\nCFT_BROWSER={kind}\n")
    committed = tmp_path / "chrome-for-testing.pin"
    committed.write_text(PINNED.format("chrome"))
    port = free_port()
    theirs = ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(mirror), str(port)]
    with serving(theirs, f"http://127.0.0.1:{port}/chrome.pin", "the other build's mirror"):
        knobs = {"CFT_PIN": str(committed), "CFT_MIRROR_DIR": str(mirror), "CFT_MIRROR_PORT": str(port)}
        result = offline_lib("serve_cft_mirror", DOCKER_NETWORK="host", **knobs)
    assert result.returncode == 1
    assert f"the local Chrome for Testing mirror did not start on 127.0.0.1:{port}" in result.stderr


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
    for archive in ("chrome-linux64", "chrome-headless-shell-linux64", "chromedriver-linux64"):
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


def sha256(site: Site, archive: str) -> str:
    return hashlib.sha256(
        (site.root / STABLE / "linux64" / f"{archive}-linux64.zip").read_bytes()
    ).hexdigest()


@pytest.mark.parametrize(
    ("pinned", "knob", "browser"),
    [
        ("chrome", "", "chrome"),
        ("chrome-headless-shell", "", "chrome-headless-shell"),
        ("chrome", "chrome-headless-shell", "chrome-headless-shell"),
        ("chrome-headless-shell", "chrome", "chrome"),
    ],
    ids=["keeps-chrome", "keeps-shell", "to-shell", "to-chrome"],
)
def test_pin_chrome_without_a_version_pins_the_current_stable(
    cft_site: Site, tmp_path: Path, pinned: str, knob: str, browser: str
) -> None:
    # CFT_BROWSER unset: the browser the pin names; set: that browser's archive, checked and recorded.
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text("# a comment that stays\n" + PINNED.format(pinned))
    result = pin_chrome(cft_site, pin, "versions.json", CFT_VERSION="", CFT_BROWSER=knob)
    assert result.returncode == 0, result.stderr
    assert pin.read_text() == (
        f"# a comment that stays\nCFT_VERSION={STABLE}\nCFT_BROWSER={browser}\n"
        f"CFT_BROWSER_SHA256={sha256(cft_site, browser)}\n"
        f"CFT_DRIVER_SHA256={sha256(cft_site, 'chromedriver')}\n"
    )
    assert f"downloading {browser}-linux64 {STABLE}" in result.stderr


def test_pin_chrome_writes_anew_a_pin_from_before_pins_named_their_browser(
    cft_site: Site, tmp_path: Path
) -> None:
    # The error for such a pin says to run `make pin-chrome`: that must then work.
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text("# kept\nCFT_VERSION=1.2.3.4\nCFT_SHELL_SHA256=\nCFT_DRIVER_SHA256=\n")
    result = pin_chrome(cft_site, pin, "versions.json", CFT_VERSION=STABLE, CFT_BROWSER="")
    assert result.returncode == 0, result.stderr
    assert (
        "CFT_SHELL_SHA256 is now CFT_BROWSER_SHA256" in result.stderr
        and "writing its values anew" in result.stderr
    )
    assert pin.read_text() == (
        f"# kept\nCFT_VERSION={STABLE}\nCFT_BROWSER=chrome\nCFT_BROWSER_SHA256={sha256(cft_site, 'chrome')}\n"
        f"CFT_DRIVER_SHA256={sha256(cft_site, 'chromedriver')}\n"
    )
    assert not (tmp_path / "chrome-for-testing.pin.tmp").exists()


def test_pin_chrome_looks_for_the_chosen_browsers_download(cft_site: Site, tmp_path: Path) -> None:
    # A Stable that lists a linux64 headless shell but no linux64 full Chrome.
    answer = versions_json(STABLE)
    downloads = answer["channels"]["Stable"]["downloads"]  # type: ignore[index]
    downloads["chrome"] = [d for d in downloads["chrome"] if d["platform"] != "linux64"]
    (cft_site.root / "no-chrome.json").write_text(json.dumps(answer))
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text(PINNED.format("chrome"))
    refused = pin_chrome(cft_site, pin, "no-chrome.json", CFT_VERSION="")
    assert refused.returncode == 1 and f"Stable {STABLE} has no linux64 chrome" in refused.stderr
    assert pin.read_text() == PINNED.format("chrome")
    shell = pin_chrome(cft_site, pin, "no-chrome.json", CFT_VERSION="", CFT_BROWSER="chrome-headless-shell")
    assert shell.returncode == 0, shell.stderr
    assert "CFT_BROWSER=chrome-headless-shell\n" in pin.read_text()


def test_pin_chrome_refuses_an_unknown_browser_knob(cft_site: Site, tmp_path: Path) -> None:
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text(PINNED.format("chrome"))
    result = pin_chrome(cft_site, pin, "versions.json", CFT_VERSION="", CFT_BROWSER="firefox")
    assert result.returncode == 1
    assert "the CFT_BROWSER knob: CFT_BROWSER='firefox' is not a Chrome for Testing browser" in result.stderr
    assert pin.read_text() == PINNED.format("chrome")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("<html>captive portal</html>", "not Chrome for Testing's versions JSON"),
        (
            json.dumps({"channels": {"Beta": {}}}),
            "not Chrome for Testing's versions JSON (KeyError: 'Stable')",
        ),
        (
            json.dumps(versions_json(STABLE, platforms=("mac-arm64",))),
            f"Stable {STABLE} has no linux64 chrome",
        ),
        (json.dumps(versions_json("199.0.9901.7; rm -rf ~")), "is not a Chrome for Testing version"),
    ],
)
def test_pin_chrome_refuses_an_answer_that_is_not_a_stable_version(
    cft_site: Site, tmp_path: Path, answer: str, message: str
) -> None:
    (cft_site.root / "odd.json").write_text(answer)
    pin = tmp_path / "chrome-for-testing.pin"
    before = PINNED.format("chrome")
    pin.write_text(before)
    result = pin_chrome(cft_site, pin, "odd.json", CFT_VERSION="")
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert pin.read_text() == before, "a refused answer changes nothing"


def test_pin_chrome_names_a_version_chrome_for_testing_never_published(
    cft_site: Site, tmp_path: Path
) -> None:
    pin = tmp_path / "chrome-for-testing.pin"
    pin.write_text(PINNED.format("chrome"))
    result = pin_chrome(cft_site, pin, "versions.json", CFT_VERSION="150.0.7871.100")
    assert result.returncode == 1
    assert "download of chrome-linux64 150.0.7871.100" in result.stderr
    assert "is 150.0.7871.100 a Chrome for Testing build?" in result.stderr
    assert pin.read_text() == PINNED.format("chrome")
