"""EventBridge's part in the local product (compose.yaml's `product` profile): the sent log's table made
in moto as the stack's template makes it, then `{"action": "run"}` to the Lambda's emulator every
SCHEDULE_SECONDS, one JSON line per run on stdout (its result, or why it was not invoked). Runs in the
Lambda image (boto3 and Python are there): `python3 -m tests.support.schedule`."""

from __future__ import annotations

import json
import os
import time
import urllib.request

import boto3

from tests.support.sent_log_table import create_sent_log_table

RUN = json.dumps({"action": "run"}).encode()


def say(message: str, **fields: object) -> None:
    print(json.dumps({"message": message, **fields}, ensure_ascii=False), flush=True)


def main() -> None:
    client = boto3.client("dynamodb")
    try:
        create_sent_log_table(os.environ["SENT_LOG_TABLE"], client)
    except client.exceptions.ResourceInUseException:
        pass  # a restarted schedule: the table and what it holds stay
    url, every = os.environ["LAMBDA_URL"], float(os.environ["SCHEDULE_SECONDS"])
    while True:
        started = time.monotonic()
        request = urllib.request.Request(url, data=RUN, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:
                say("run", result=json.load(answer))
        except (OSError, ValueError) as err:  # the function restarting: the next tick tries again
            say("run not invoked", error=f"{type(err).__name__}: {err}")
        time.sleep(max(0.0, every - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
