"""Headless Chrome sessions that leave nothing behind: fresh temp dirs, quit in finally, reaped children.

Flags follow the ones proven in Lambda (no sandbox, single process, no /dev/shm); Selenium Manager
is kept offline by explicit binary paths and SE_OFFLINE, so nothing is ever downloaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROME_FLAGS = (
    "--headless=new",  # Full Chrome's own headless mode; chrome-headless-shell is headless anyway.
    "--no-sandbox",  # Lambda and containers run without the user namespaces the sandbox needs.
    "--disable-gpu",
    "--single-process",  # Lambda allows few processes; also what keeps memory flat across invokes.
    "--no-zygote",
    "--disable-dev-shm-usage",  # /dev/shm is 64 MB in Lambda and Docker.
    "--window-size=1280,1696",
    "--no-first-run",
    # Without these Chromium keeps dialling Google services on a closed network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)


class BrowserError(RuntimeError):
    """The browser or its driver could not start or crashed."""


@dataclass(frozen=True)
class BrowserConfig:
    chrome_bin: str
    chromedriver_bin: str
    page_load_timeout_seconds: float


def _check_binary(path: str, setting: str) -> None:
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        raise BrowserError(f"{setting}: {path!r} is not an executable file")


def _reap_children() -> None:
    # chromedriver's own children (crashpad, renderer) are re-parented to us when it exits in a
    # container whose PID 1 does not reap; collect them so no zombie outlives the invoke.
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


@contextlib.contextmanager
def chrome_session(config: BrowserConfig) -> Iterator[WebDriver]:
    _check_binary(config.chrome_bin, "CHROME_BIN")
    _check_binary(config.chromedriver_bin, "CHROMEDRIVER_BIN")
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver  # noqa: PLC0415  (lazy: keeps handler import cheap)
    from selenium.common.exceptions import WebDriverException  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    # Fresh dirs per session: a stale profile in a warm Lambda's /tmp breaks the next start.
    scratch = Path(tempfile.mkdtemp(prefix="chrome-"))
    options = webdriver.ChromeOptions()
    options.binary_location = config.chrome_bin
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    for name in ("user-data-dir", "data-path", "disk-cache-dir"):
        (scratch / name).mkdir()
        options.add_argument(f"--{name}={scratch / name}")
    service = Service(executable_path=config.chromedriver_bin, log_output=os.devnull)
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(config.page_load_timeout_seconds)
        yield driver
    except WebDriverException as err:
        raise BrowserError(f"browser failed: {err.msg or type(err).__name__}") from err
    finally:
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.quit()
        service.stop()
        _reap_children()
        shutil.rmtree(scratch, ignore_errors=True)


def probe_browser(config: BrowserConfig) -> None:
    """Smoke check: start, render a data: page, read it back, quit."""
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    with chrome_session(config) as driver:
        driver.get("data:text/html,<title>smoke</title><p id='probe'>ok</p>")
        text = driver.find_element(By.ID, "probe").text
    if text != "ok":
        raise BrowserError(f"browser rendered {text!r} instead of 'ok'")
