"""Sent-message log in DynamoDB: a conditional put per idempotency key makes sending at-most-once.

Item: idempotency_key (hash key), state (claimed | sent | unknown), rule, booking_id, owner, at (epoch
seconds of the last state change), attempt and marked (random tokens of the claim and of its unknown
mark), and provider_id or reason. Every state change is conditional, so two Lambdas racing on one key
cannot both claim it, and a stale claim is reported unknown exactly once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage

KEY = "idempotency_key"
CONDITION_FAILED = "ConditionalCheckFailedException"


class _ConditionFailed(Exception):
    pass


def _claim_of(item: dict[str, Any]) -> Claim:
    return Claim(
        state=ClaimState(item["state"]["S"]),
        owner=item.get("owner", {}).get("S", ""),
        at=float(item.get("at", {}).get("N", "0")),
        provider_id=item.get("provider_id", {}).get("S", ""),
    )


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
            if err.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                raise _ConditionFailed from err
            raise SentLogError(f"DynamoDB {operation} on {self._table}: {err}") from err
        except BotoCoreError as err:
            raise SentLogError(f"DynamoDB {operation} on {self._table}: {err}") from err

    def _key(self, message: PlannedMessage) -> dict[str, Any]:
        return {KEY: {"S": message.idempotency_key}}

    def claim(self, message: PlannedMessage, owner: str, now: float) -> tuple[Claim, bool]:
        item = {
            **self._key(message),
            "state": {"S": ClaimState.CLAIMED.value},
            "rule": {"S": message.rule},
            "booking_id": {"S": message.booking_id},
            "owner": {"S": owner},
            "at": {"N": repr(now)},
            "attempt": {"S": secrets.token_hex(8)},
        }
        try:
            # botocore retries a put whose answer was lost; when the lost try was stored, the retry finds
            # this very claim, nothing sent under it, and its attempt token lets it through.
            self._call(
                "put_item",
                Item=item,
                ConditionExpression=f"attribute_not_exists({KEY}) OR (attempt = :attempt AND #s = :claimed)",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":attempt": item["attempt"], ":claimed": item["state"]},
            )
        except _ConditionFailed:
            existing = self.lookup(message)
            if existing is None:  # released between our put and our read: claim again
                return self.claim(message, owner, now)
            return existing, False
        return Claim(ClaimState.CLAIMED, owner, now, attempt=item["attempt"]["S"]), True

    def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        self._call(
            "update_item",
            Key=self._key(message),
            UpdateExpression="SET #s = :sent, provider_id = :pid, #at = :now",
            ExpressionAttributeNames={"#s": "state", "#at": "at"},
            ExpressionAttributeValues={
                ":sent": {"S": ClaimState.SENT.value},
                ":pid": {"S": provider_id},
                ":now": {"N": repr(time.time())},
            },
        )

    def release(self, message: PlannedMessage, claim: Claim) -> None:
        try:
            self._call(
                "delete_item",
                Key=self._key(message),
                ConditionExpression="#s = :claimed AND #owner = :owner AND #at = :at",
                ExpressionAttributeNames={"#s": "state", "#owner": "owner", "#at": "at"},
                ExpressionAttributeValues={
                    ":claimed": {"S": ClaimState.CLAIMED.value},
                    ":owner": {"S": claim.owner},
                    ":at": {"N": repr(claim.at)},
                },
            )
        except _ConditionFailed:
            pass  # no longer a claim (reported unknown meanwhile): keep what is there

    def mark_unknown(self, message: PlannedMessage, previous: Claim, reason: str) -> bool:
        try:
            # As for the claim: botocore's retry of a mark whose answer was lost finds its own mark.
            self._call(
                "update_item",
                Key=self._key(message),
                UpdateExpression="SET #s = :unknown, reason = :reason, marked = :mark",
                ConditionExpression="(#s = :claimed AND #owner = :owner AND #at = :at)"
                " OR (#s = :unknown AND marked = :mark)",
                ExpressionAttributeNames={"#s": "state", "#owner": "owner", "#at": "at"},
                ExpressionAttributeValues={
                    ":unknown": {"S": ClaimState.UNKNOWN.value},
                    ":reason": {"S": reason[:500]},
                    ":mark": {"S": secrets.token_hex(8)},
                    ":claimed": {"S": ClaimState.CLAIMED.value},
                    ":owner": {"S": previous.owner},
                    ":at": {"N": repr(previous.at)},
                },
            )
        except _ConditionFailed:
            return False
        return True

    def lookup(self, message: PlannedMessage) -> Claim | None:
        found = self._call("get_item", Key=self._key(message), ConsistentRead=True)
        return _claim_of(found["Item"]) if "Item" in found else None

    def unresolved(self) -> Iterator[dict[str, str]]:
        """Every claim not (yet) confirmed as sent, for operators: `make claims`."""
        start: dict[str, Any] = {}
        while True:
            page = self._call(
                "scan",
                FilterExpression="#s <> :sent",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":sent": {"S": ClaimState.SENT.value}},
                **start,
            )
            for item in page["Items"]:
                yield {name: str(next(iter(value.values()))) for name, value in item.items()}
            if "LastEvaluatedKey" not in page:
                return
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
