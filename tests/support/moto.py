"""moto's server standing in for AWS (DynamoDB, Secrets Manager, SSM) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from tests.support.procs import REPO, free_port, serving

SENT_LOG_TABLE = "naver-sms-sent"
# Credentials moto accepts; never real ones.
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "ap-northeast-2",
    "AWS_DEFAULT_REGION": "ap-northeast-2",
}


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Its URL and its process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = (
        f"import sys; sys.path.insert(0, {str(REPO)!r}); import tests.support.moto_cfn;"
        " from moto.server import main; main()"
    )
    with serving(
        [sys.executable, "-c", server, "-H", "127.0.0.1", "-p", str(port)], f"{url}/moto-api/", "moto server"
    ) as process:
        yield url, process


def create_sent_log_table(table: str = SENT_LOG_TABLE, client: Any = None) -> None:
    """The table the Lambda's sent log expects (without a client, boto3 must already point at moto)."""
    import boto3

    (client or boto3.client("dynamodb")).create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "idempotency_key", "AttributeType": "S"},
            {"AttributeName": "open", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "idempotency_key", "KeyType": "HASH"}],
        # As infra/template.yaml has it: the sweep's sparse index (a test reads both and compares).
        GlobalSecondaryIndexes=[
            {
                "IndexName": "open",
                "KeySchema": [{"AttributeName": "open", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
