"""The Lambda's sent log: a DynamoDB table keyed by idempotency_key, one item per message holding the
claim record (sent_log.py's codec) and `revision`, a random token each write stores, on which the next
write's condition compares-and-sets.

Each write's condition also accepts its own revision: botocore retries a write whose answer was lost,
and when the lost try was stored the retry finds that very write and goes through. boto3 blocks, so its
calls run on a thread and the event loop stays free.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Collection
from typing import Any

from naver_sms.adapters.claim_record import HANDSET, KEY, OPEN, RECONCILE, SWEEP, listed
from naver_sms.adapters.record_store import Held, Stored
from naver_sms.adapters.sent_log import Changed, Fields, StoreSentLog
from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim
from naver_sms.domain.messages import PlannedMessage

CONDITION_FAILED = "ConditionalCheckFailedException"
REVISION = "revision"
BATCH_KEYS = 100  # the most keys one BatchGetItem takes
# Requests for one batch's keys that DynamoDB leaves unprocessed (it answers part of a batch when
# throttled) before read_many fails; the waits between them double from UNPROCESSED_WAIT: 0.75 s in all.
UNPROCESSED_TRIES = 5
UNPROCESSED_WAIT = 0.05


def _item(fields: Fields) -> dict[str, Any]:
    return {
        name: {"N": repr(value)} if isinstance(value, float) else {"S": value}
        for name, value in fields.items()
    }


def _fields(item: dict[str, Any]) -> Fields:
    return {
        name: float(value["N"]) if "N" in value else str(value.get("S", ""))
        for name, value in item.items()
        if name not in (KEY, REVISION)
    }


def _held(item: dict[str, Any]) -> tuple[Fields, str]:
    """A stored item as `read` gives it: its fields and its revision (none for an item written before
    revisions existed)."""
    return _fields(item), str(item.get(REVISION, {}).get("S", ""))


def _holds(revision: str) -> str:
    # Items written before revisions existed have none: they are compared as such.
    return f"{REVISION} = :last" if revision else f"attribute_not_exists({REVISION})"


class DynamoRecords:
    def __init__(self, table: str, client: Any = None) -> None:
        self._table = table
        self._client = client

    def _dynamodb(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415  (lazy: the smoke path never needs it)

            self._client = boto3.client("dynamodb")
        return self._client

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._blocking, operation, {"TableName": self._table, **kwargs})

    def _blocking(self, operation: str, kwargs: dict[str, Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            return getattr(self._dynamodb(), operation)(**kwargs)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                raise Changed from err
            raise SentLogError(f"DynamoDB {operation} on {self._table}: {err}") from err
        except BotoCoreError as err:
            raise SentLogError(f"DynamoDB {operation} on {self._table}: {err}") from err

    async def _write(self, key: str, fields: Fields, condition: str | None, last: str = "") -> str:
        revision = secrets.token_hex(8)
        item = {**_item(fields), KEY: {"S": key}, REVISION: {"S": revision}}
        if condition is None:
            await self._call("put_item", Item=item)
            return revision
        values = {":mine": {"S": revision}, **({":last": {"S": last}} if last else {})}
        await self._call(
            "put_item",
            Item=item,
            ConditionExpression=f"({condition}) OR {REVISION} = :mine",
            ExpressionAttributeValues=values,
        )
        return revision

    async def create(self, key: str, fields: Fields) -> str:
        return await self._write(key, fields, f"attribute_not_exists({KEY})")

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        return await self._write(key, fields, f"attribute_exists({KEY}) AND {_holds(revision)}", revision)

    async def put(self, key: str, fields: Fields) -> str:
        return await self._write(key, fields, None)

    async def delete(self, key: str, revision: str) -> None:
        await self._call(
            "delete_item",
            Key={KEY: {"S": key}},
            ConditionExpression=f"attribute_exists({KEY}) AND {_holds(revision)}",
            **({"ExpressionAttributeValues": {":last": {"S": revision}}} if revision else {}),
        )

    async def read(self, key: str) -> Held | None:
        found = await self._call("get_item", Key={KEY: {"S": key}}, ConsistentRead=True)
        return _held(found["Item"]) if "Item" in found else None

    async def read_many(self, keys: Collection[str]) -> dict[str, Held]:
        # BatchGetItem, consistent as `read` is. The batches go one after another: a few round trips
        # for a run's bookings, and never two threads making the boto3 client at once (boto3 makes no
        # client safely from several threads).
        wanted = list(dict.fromkeys(keys))  # a batch asking for a key twice is refused
        found: dict[str, Held] = {}
        for start in range(0, len(wanted), BATCH_KEYS):
            for item in await self._batch(wanted[start : start + BATCH_KEYS]):
                found[str(item[KEY]["S"])] = _held(item)
        return found

    async def _batch(self, keys: list[str]) -> list[dict[str, Any]]:
        """The stored items of at most BATCH_KEYS keys, asking again for those left unprocessed."""
        items: list[dict[str, Any]] = []
        asked: dict[str, Any] = {"Keys": [{KEY: {"S": key}} for key in keys], "ConsistentRead": True}
        for attempt in range(UNPROCESSED_TRIES):
            if attempt:
                await asyncio.sleep(UNPROCESSED_WAIT * 2 ** (attempt - 1))
            answer = await asyncio.to_thread(
                self._blocking, "batch_get_item", {"RequestItems": {self._table: asked}}
            )
            items += answer.get("Responses", {}).get(self._table, [])
            left = answer.get("UnprocessedKeys", {}).get(self._table)
            if not left or not left.get("Keys"):
                return items
            asked = left
        raise SentLogError(
            f"DynamoDB batch_get_item on {self._table}: {len(asked['Keys'])} of {len(keys)} keys"
            f" still unprocessed after {UNPROCESSED_TRIES} requests"
        )

    async def query_open(self, value: str = SWEEP, **start: Any) -> Any:
        # An index is eventually consistent: a record settled a moment ago may still be listed, and is
        # read again (consistently) before anything is written about it. `value` is whose look (OPEN).
        return await self._call(
            "query",
            IndexName=OPEN_INDEX,
            KeyConditionExpression="#open = :one",
            ExpressionAttributeNames={"#open": OPEN},
            ExpressionAttributeValues={":one": {"S": value}},
            **start,
        )

    async def scan(self) -> AsyncIterator[tuple[str, Stored]]:
        start: dict[str, Any] = {}
        while True:
            page = await self._call("scan", **start)
            for item in page["Items"]:
                yield str(item[KEY]["S"]), _fields(item)
            if "LastEvaluatedKey" not in page:
                return
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


OPEN_INDEX = "open"  # the table's sparse index on OPEN (infra/template.yaml)


class DynamoOpenClaims:
    """OpenClaims over the table's sparse `open` index: only records that still need a look are in it,
    under the value saying whose look (claim_record.OPEN), each asked for on its own."""

    def __init__(self, records: DynamoRecords) -> None:
        self._records = records

    async def open_claims(self) -> list[tuple[PlannedMessage, Claim]]:
        return await self._open(SWEEP)

    async def to_reconcile(self) -> list[tuple[PlannedMessage, Claim]]:
        return await self._open(RECONCILE) + await self._open(HANDSET)

    async def _open(self, value: str) -> list[tuple[PlannedMessage, Claim]]:
        found: list[tuple[PlannedMessage, Claim]] = []
        start: dict[str, Any] = {}
        while True:
            page = await self._records.query_open(value, **start)
            for item in page["Items"]:
                found.append(listed(item[KEY]["S"], *_held(item)))
            if "LastEvaluatedKey" not in page:
                return found
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def dynamo_sent_log(table: str, owner: str, client: Any = None) -> StoreSentLog:
    return StoreSentLog(DynamoRecords(table, client), owner)
