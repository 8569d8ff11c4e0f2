"""The worker's sent log: a JetStream key-value bucket, no AWS needed. `create` succeeds only for an
absent (or deleted) key, and `update`/`delete` with the revision read are compare-and-sets, which is all
sent_log.py's lifecycle asks of a store."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Collection, Iterator

import nats.errors
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from naver_sms.adapters.record_store import Held, Stored
from naver_sms.adapters.sent_log import Changed, Fields, StoreSentLog
from naver_sms.application.errors import SentLogError

WRONG_LAST_SEQUENCE = 10071  # JetStream's error code for a compare-and-set that lost


@contextlib.contextmanager
def _answers() -> Iterator[None]:
    try:
        yield
    except KeyWrongLastSequenceError as err:  # before its base class, nats.errors.Error
        raise Changed from err
    except APIError as err:
        # nats-py names the lost compare-and-set only for update: a conditional delete answers a plain
        # BadRequestError with the same code.
        if err.err_code == WRONG_LAST_SEQUENCE:
            raise Changed from err
        raise SentLogError(f"JetStream KV: {type(err).__name__}: {err}") from err
    except (nats.errors.Error, TimeoutError, OSError) as err:
        raise SentLogError(f"JetStream KV: {type(err).__name__}: {err}") from err


def _value(fields: Fields) -> bytes:
    return json.dumps(fields).encode()


def _fields(value: bytes | None) -> Fields:
    data = json.loads(value or b"{}")
    return {
        name: item if isinstance(item, str) else float(item)
        for name, item in data.items()
        if isinstance(item, str | float | int)
    }


class NatsKvRecords:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def create(self, key: str, fields: Fields) -> str:
        with _answers():
            return str(await self._kv.create(key, _value(fields)))

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        with _answers():
            return str(await self._kv.update(key, _value(fields), last=int(revision)))

    async def put(self, key: str, fields: Fields) -> str:
        with _answers():
            return str(await self._kv.put(key, _value(fields)))

    async def delete(self, key: str, revision: str) -> None:
        with _answers():
            await self._kv.delete(key, last=int(revision))

    async def read(self, key: str) -> Held | None:
        with _answers():
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:  # KeyDeletedError is a subclass: a released claim is absent
                return None
            return _fields(entry.value), str(entry.revision)

    async def read_many(self, keys: Collection[str]) -> dict[str, Held]:
        # One `read` a key: JetStream KV (nats-py's KeyValue) has no batch get. The change feed, the
        # one caller, runs on the Lambda's DynamoDB, never on this store.
        found: dict[str, Held] = {}
        for key in dict.fromkeys(keys):
            held = await self.read(key)
            if held is not None:
                found[key] = held
        return found

    async def scan(self) -> AsyncIterator[tuple[str, Stored]]:
        with _answers():
            try:
                keys = await self._kv.keys()
            except NoKeysError:
                return
        for key in keys:
            held = await self.read(key)
            if held is not None:
                yield key, held[0]


def nats_sent_log(kv: KeyValue, owner: str) -> StoreSentLog:
    return StoreSentLog(NatsKvRecords(kv), owner)
