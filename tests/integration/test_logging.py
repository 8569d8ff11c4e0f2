from __future__ import annotations

import json
import subprocess
import sys

from tests.support.procs import REPO

SCRIPT = """
import logging
from naver_sms.logging_setup import bound, setup_logging
setup_logging()
log = logging.getLogger("naver_sms.test")
with bound(request_id="req-1"):
    with bound(message_id="m-7"):
        log.info("inner", extra={"count": 3})
    log.warning("outer")
log.debug("hidden at INFO")
log.error("after")
"""


def run(env_level: str | None = None) -> list[dict[str, object]]:
    env = {"PYTHONPATH": str(REPO / "src"), **({"LOG_LEVEL": env_level} if env_level else {})}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_lines_are_json_with_fields_and_bound_context() -> None:
    inner, outer, after = run()
    assert {"timestamp", "level", "logger", "message"} <= inner.keys()
    assert (inner["level"], inner["logger"], inner["message"]) == ("INFO", "naver_sms.test", "inner")
    assert (inner["request_id"], inner["message_id"], inner["count"]) == ("req-1", "m-7", 3)
    assert outer["request_id"] == "req-1" and "message_id" not in outer
    assert "request_id" not in after


def test_log_level_from_env() -> None:
    lines = run("DEBUG")
    assert [line["message"] for line in lines] == ["inner", "outer", "hidden at INFO", "after"]
    assert [line["message"] for line in run("ERROR")] == ["after"]


SCRUB_SCRIPT = """
import logging
from naver_sms.logging_setup import setup_logging
setup_logging()
log = logging.getLogger("naver_sms.test")
log.warning("refused 010-2222-3333 by SENS", extra={"reason": "to 손님01044445555", "blob": "x" * 1_000_000,
            "nested": {"to": ["+82 10-6666-7777"]}})
try:
    raise ValueError("bad phone 01088889999")
except ValueError:
    log.exception("failed")
"""


def test_phone_numbers_are_masked_and_values_capped_in_every_line() -> None:
    env = {"PYTHONPATH": str(REPO / "src")}
    out = subprocess.run(
        [sys.executable, "-c", SCRUB_SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    warning, failed = (json.loads(line) for line in out.stdout.splitlines())
    assert warning["message"] == "refused 010****3333 by SENS"
    assert warning["reason"] == "to 손님010****5555"
    assert warning["nested"] == {"to": ["010****7777"]}
    assert len(warning["blob"]) < 1100 and warning["blob"].endswith("(1000000 chars)")
    assert "010****9999" in failed["exc_info"]
    for digits in ("22223333", "44445555", "66667777", "88889999"):
        assert digits not in out.stdout


def test_each_line_carries_its_own_second() -> None:
    """The formatted timestamp is reused within one second only."""
    script = """
import logging, time
from unittest import mock
from naver_sms.logging_setup import setup_logging
setup_logging()
log = logging.getLogger("naver_sms.test")
for at in (1_800_000_000.1, 1_800_000_000.9, 1_800_000_001.0, 1_800_000_000.5):
    # LogRecord reads time.time() up to Python 3.12, time.time_ns() from 3.13.
    with mock.patch("time.time", return_value=at), mock.patch("time.time_ns", return_value=int(at * 1e9)):
        log.info("tick")
"""
    env = {"PYTHONPATH": str(REPO / "src"), "TZ": "UTC"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    stamps = [json.loads(line)["timestamp"] for line in out.stdout.splitlines()]
    assert stamps == [
        "2027-01-15T08:00:00+0000",
        "2027-01-15T08:00:00+0000",
        "2027-01-15T08:00:01+0000",
        "2027-01-15T08:00:00+0000",
    ]


BYPASS_SCRIPT = """
import logging
from naver_sms.logging_setup import MAX_VALUE_CHARS, setup_logging
setup_logging()
log = logging.getLogger("naver_sms.test")
log.warning("a", extra={"v": "name\\n01011112222"})  # a real newline glued to the number
log.warning("b", extra={"v": "tab\\t01033334444"})
log.warning("c", extra={"v": "(010) 5555-6666"})
log.warning("d", extra={"v": "+82 (0)10-7777-8888"})
log.warning("e", extra={"v": "010  9999  1111"})
log.warning("f", extra={"v": "x" * (MAX_VALUE_CHARS - 6) + " 01022223333"})  # the cap cuts it mid-number
"""


def test_no_escape_spacing_or_cap_lets_a_phone_number_through() -> None:
    env = {"PYTHONPATH": str(REPO / "src")}
    out = subprocess.run(
        [sys.executable, "-c", BYPASS_SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    values = [json.loads(line)["v"] for line in out.stdout.splitlines()]
    assert values[:5] == [
        "name\n010****2222",
        "tab\t010****4444",
        "(010****6666",
        "010****8888",
        "010****1111",
    ]
    assert values[5].startswith("x" * 994 + " 010**") and values[5].endswith("chars)")
    for digits in ("11112222", "33334444", "5555", "7777", "9999", "22223333", "01022"):
        assert digits not in out.stdout
