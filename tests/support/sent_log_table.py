"""The sent log's DynamoDB table as infra/template.yaml makes it, for moto: the tests' and the local
product's (tests/support/schedule.py, in the Lambda image, where only boto3 is at hand)."""

from __future__ import annotations

from typing import Any

SENT_LOG_TABLE = "naver-sms-sent"


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
