"""Sent-message log in a JetStream key-value bucket: the worker's dedupe store, no AWS needed.

`create` succeeds only for an absent (or deleted) key, which makes claims atomic across workers.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from naver_sms.domain.messages import PlannedMessage

BRIDGE_TIMEOUT_SECONDS = 10.0


class NatsKvSentLog:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def claim(self, message: PlannedMessage) -> bool:
        record = {
            "state": "claimed",
            "rule": message.rule,
            "booking_id": message.booking_id,
            "at": time.time(),
        }
        try:
            await self._kv.create(message.idempotency_key, json.dumps(record).encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        record = {
            "state": "sent",
            "rule": message.rule,
            "booking_id": message.booking_id,
            "provider_id": provider_id,
            "at": time.time(),
        }
        await self._kv.put(message.idempotency_key, json.dumps(record).encode())

    async def release(self, message: PlannedMessage) -> None:
        await self._kv.delete(message.idempotency_key)

    async def contains(self, message: PlannedMessage) -> bool:
        try:
            await self._kv.get(message.idempotency_key)
        except KeyNotFoundError:  # KeyDeletedError is a subclass: a released claim is absent
            return False
        return True


class ThreadBridgedSentLog:
    """The synchronous SentLog port over the async store, for delivery running in a worker thread."""

    def __init__(self, store: NatsKvSentLog, loop: asyncio.AbstractEventLoop) -> None:
        self._store = store
        self._loop = loop

    def _wait(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(BRIDGE_TIMEOUT_SECONDS)

    def claim(self, message: PlannedMessage) -> bool:
        return bool(self._wait(self._store.claim(message)))

    def confirm(self, message: PlannedMessage, provider_id: str) -> None:
        self._wait(self._store.confirm(message, provider_id))

    def release(self, message: PlannedMessage) -> None:
        self._wait(self._store.release(message))

    def contains(self, message: PlannedMessage) -> bool:
        return bool(self._wait(self._store.contains(message)))
