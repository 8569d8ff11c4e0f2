"""Where the Lambda image's Chrome for Testing came from, for the tests that build or download it.

Where the official bases and Chrome for Testing are reachable (a laptop, GitHub's runner): the download
site and the committed pin, with the other browser's archive at that version hashed on first download, as
`make pin-chrome` records it. Only where a pull failed (the images then built on the stand-in base): the
local mirror made of Debian's chromium (scripts/offline/cft-mirror.sh), served as `make build` serves it,
with its pin for each browser.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import REPO, docker, need_tool, offline_lib, serving, shell_constant

PIN_LINE = re.compile(r"^(CFT_VERSION|CFT_BROWSER|CFT_BROWSER_SHA256|CFT_DRIVER_SHA256)=(.*)$")
BROWSERS = ("chrome", "chrome-headless-shell")


def read_pin(path: Path) -> dict[str, str]:
    return dict(m.groups() for line in path.read_text().splitlines() if (m := PIN_LINE.match(line)))


def pin_text(pin: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in pin.items())


def url_sha256(url: str, path: Path) -> str:
    urllib.request.urlretrieve(url, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def downloaded_sha256(url: str) -> str:
    """An archive of the real site hashed once a session (the other browser's, on a connected machine)."""
    with tempfile.TemporaryDirectory() as scratch:
        return url_sha256(url, Path(scratch) / "archive.zip")


@dataclass(frozen=True)
class ChromeSource:
    """A download site, the browser the images were built with, and a pin of each browser at that version."""

    url: str
    browser: str
    pins: dict[str, dict[str, str]]

    @property
    def pin(self) -> dict[str, str]:
        return self.pins[self.browser]


def lib_output(code: str) -> str:
    result = offline_lib(code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@contextlib.contextmanager
def chrome_source(lambda_image: str) -> Iterator[ChromeSource]:
    """Offline, the mirror is served only while a test uses it: a `make build` in a clone serves its own
    mirror on the same port (the same URL, so the same build cache), and must find that port free."""
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", lambda_image)
    committed = read_pin(REPO / "docker" / "chrome-for-testing.pin")
    if "standin.inputs" not in labels:
        url, browser = shell_constant("CFT_SITE"), committed["CFT_BROWSER"]
        (other,) = set(BROWSERS) - {browser}
        archive = f"{url}/{committed['CFT_VERSION']}/linux64/{other}-linux64.zip"
        other_pin = {**committed, "CFT_BROWSER": other, "CFT_BROWSER_SHA256": downloaded_sha256(archive)}
        yield ChromeSource(url, browser, {browser: committed, other: other_pin})
        return
    need_tool("dpkg-deb")
    mirror = Path(lib_output('"$REPO_ROOT/scripts/offline/cft-mirror.sh"'))
    # Where build steps reach this host, found as `make build` finds it (never from IPAM's Gateway), on
    # its port: the same CFT_BASE_URL as the images' build, so builds here reuse its cache.
    host, port = lib_output("bridge_address"), lib_output('printf %s "$CFT_MIRROR_PORT"')
    url = f"http://{host}:{port}"
    command = ["python3", "-m", "http.server", "--bind", host, "--directory", str(mirror), str(port)]
    pins = {browser: read_pin(mirror / f"{browser}.pin") for browser in BROWSERS}
    with serving(command, f"{url}/{committed['CFT_BROWSER']}.pin", "the mirror's HTTP server"):
        yield ChromeSource(url, committed["CFT_BROWSER"], pins)
