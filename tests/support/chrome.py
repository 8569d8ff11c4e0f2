"""Where the Lambda image's Chrome for Testing came from: the download site and the committed pin, or, only
where a pull failed (the image then built on the stand-in base), the offline mirror and its own pin."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import REPO, docker, need_tool, offline_lib, serving, shell_constant

PIN_LINE = re.compile(r"^([A-Z0-9_]+)=(.*)$")


def read_pin(path: Path) -> dict[str, str]:
    """A pin file's KEY=VALUE lines (scripts/lib/chrome.sh is the parser that judges them)."""
    return dict(m.groups() for line in path.read_text().splitlines() if (m := PIN_LINE.match(line)))


@dataclass(frozen=True)
class ChromeSource:
    url: str
    pin: dict[str, str]


def lib_output(code: str) -> str:
    result = offline_lib(code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@contextlib.contextmanager
def chrome_source(lambda_image: str) -> Iterator[ChromeSource]:
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", lambda_image)
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
