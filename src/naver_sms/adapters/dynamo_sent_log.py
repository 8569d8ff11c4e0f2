"""Sent-message log in DynamoDB: a conditional put per idempotency key makes sending at-most-once."""

from __future__ import annotations

import time
from typing import Any

from naver_sms.application.errors import SentLogError
from naver_sms.domain.messages import PlannedMessage

KEY = "idempotency_key"


class DynamoSentLog:
    def __init__(self, table: str, client: Any = None) -> None:
        self._table = table
        self._client = client

    def _dynamodb(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415  (lazy: the smoke path never needs it)

            self._client = boto3.client("dynamodb")
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            return getattr(self._dynamodb(), operation)(TableName=self._table, **kwargs)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise
            raise SentLogError(f"DynamoDB {operation} on {self._table}: {err}") from err
        except BotoCoreError as err:
            raise SentLogError(f"DynamoDB {operation} on {self._table}: {err}") from err

    def claim(self, message: PlannedMessage) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        item = {
            KEY: {"S": message.idempotency_key},
            "state": {"S": "claimed"},
            "rule": {"S": message.rule},
            "booking_id": {"S": message.booking_id},
            "claimed_at": {"N": str(int(time.time()))},
        }
        try:
            self._call("put_item", Item=item, ConditionExpression=f"attribute_not_exists({KEY})")
        except ClientError:
            return False
        return True

    def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        self._call(
            "update_item",
            Key={KEY: {"S": message.idempotency_key}},
            UpdateExpression="SET #s = :sent, provider_id = :pid, sent_at = :now",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":sent": {"S": "sent"},
                ":pid": {"S": provider_id},
                ":now": {"N": str(int(time.time()))},
            },
        )

    def release(self, message: PlannedMessage) -> None:
        self._call("delete_item", Key={KEY: {"S": message.idempotency_key}})

    def contains(self, message: PlannedMessage) -> bool:
        found = self._call("get_item", Key={KEY: {"S": message.idempotency_key}}, ConsistentRead=True)
        return "Item" in found
