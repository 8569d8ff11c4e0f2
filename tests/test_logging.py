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
