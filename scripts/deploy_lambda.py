"""Deploy a pushed Lambda image by digest, and move the alias only when that exact version passes.

update-function-code (by digest) → wait until updated → publish a version of that code → invoke the
version with {"smoke": true} → only then point ALIAS at it. A failed smoke leaves the alias (which the
schedule and every other trigger call) where it was, so the broken version never serves.

The function has a reserved concurrency of 1, so the smoke is throttled (TooManyRequestsException) while
a scheduled run is in flight. It is tried again, waiting 5 s, 10 s, 20 s … (at most 60 s at a time), for
as long as a run can last: the function's timeout plus a minute. A smoke that never ran leaves the alias
where it was, as a failed one does.

Usage: python scripts/deploy_lambda.py FUNCTION IMAGE_URI [ALIAS]   (AWS credentials from the environment)
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

DIGEST = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")
SMOKE = b'{"smoke": true}'
THROTTLED = "TooManyRequestsException"
FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 60.0
RUN_END_MARGIN_SECONDS = 60  # the smoke waits out a run in flight: its timeout, plus this
DEFAULT_TIMEOUT_SECONDS = 300  # infra/template.yaml's Timeout, when the answer does not say
# Module attributes, so the tests wait on a clock of their own.
sleep: Callable[[float], None] = time.sleep
clock: Callable[[], float] = time.monotonic


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def smoke_problem(answer: dict[str, Any]) -> str | None:
    """Why the version failed its smoke, or None."""
    payload = answer["Payload"].read()
    if answer.get("FunctionError"):
        return f"the function raised ({answer['FunctionError']}): {payload[:300]!r}"
    try:
        body = json.loads(payload)
    except ValueError:
        return f"the answer is not JSON: {payload[:300]!r}"
    if not isinstance(body, dict) or body.get("status") != "ok":
        return f"the smoke answered {json.dumps(body)[:300]}"
    return None


def invoke_smoke(client: Any, function: str, version: str, wait_seconds: float) -> dict[str, Any] | None:
    """The version's answer to the smoke event, or None when it was throttled for wait_seconds."""
    deadline = clock() + wait_seconds
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            answer: dict[str, Any] = client.invoke(FunctionName=function, Qualifier=version, Payload=SMOKE)
            return answer
        except ClientError as err:
            if err.response["Error"]["Code"] != THROTTLED:
                raise
        left = deadline - clock()
        if left <= 0:
            return None
        pause = min(delay, left)
        say(
            f"    throttled: another invocation holds the function's reserved concurrency "
            f"(a scheduled run?); smoking again in {pause:.0f} s ({left:.0f} s left)"
        )
        sleep(pause)
        delay = min(delay * 2, MAX_RETRY_SECONDS)


def current_target(client: Any, function: str, alias: str) -> str | None:
    try:
        return str(client.get_alias(FunctionName=function, Name=alias)["FunctionVersion"])
    except ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def deploy(function: str, image_uri: str, alias: str, client: Any = None) -> int:
    if not DIGEST.fullmatch(image_uri):
        say(f"error: IMAGE_URI={image_uri!r} is not a pushed image by digest (registry/repo@sha256:…)")
        return 2
    client = client or boto3.client("lambda")
    before = current_target(client, function, alias)
    say(f"==> {function}: update code to {image_uri}")
    updated = client.update_function_code(FunctionName=function, ImageUri=image_uri)
    client.get_waiter("function_updated_v2").wait(FunctionName=function)
    version = client.publish_version(
        FunctionName=function, CodeSha256=updated["CodeSha256"], Description=image_uri[-80:]
    )["Version"]
    say(f"==> published version {version}; smoking it")
    wait = int(updated.get("Timeout") or DEFAULT_TIMEOUT_SECONDS) + RUN_END_MARGIN_SECONDS
    answer = invoke_smoke(client, function, version, wait)
    if answer is None:
        say(f"error: version {version} never ran its smoke: throttled ({THROTTLED}) for {wait} s")
        say(f"alias {alias!r} left at {before or '(none)'}; nothing else changed")
        return 1
    problem = smoke_problem(answer)
    if problem:
        say(f"error: version {version} failed its smoke: {problem}")
        say(f"alias {alias!r} left at {before or '(none)'}; nothing else changed")
        return 1
    if before is None:
        client.create_alias(FunctionName=function, Name=alias, FunctionVersion=version)
    else:
        client.update_alias(FunctionName=function, Name=alias, FunctionVersion=version)
    say(f"==> alias {alias!r}: {before or '(new)'} → {version}")
    print(version)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        say(__doc__.strip().splitlines()[-1])
        return 2
    try:
        return deploy(argv[1], argv[2], argv[3] if len(argv) == 4 else "live")
    except (ClientError, BotoCoreError, WaiterError) as err:
        say(f"error: {type(err).__name__}: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
