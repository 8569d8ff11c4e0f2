"""Fixtures of the integration layer: each sent log's store, opened per test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import boto3
import nats
import pytest

from naver_sms.adapters.dynamo_sent_log import DynamoRecords
from naver_sms.adapters.nats_sent_log import NatsKvRecords
from naver_sms.adapters.sent_log import RecordStore
from tests.support.fakes import MemoryRecords
from tests.support.moto import SENT_LOG_TABLE, create_sent_log_table
from tests.support.nats_server import NatsServer
from tests.support.stores import Stores
from tests.support.topology import WORKER


@pytest.fixture(params=["fake", "dynamodb", "nats"])
def stores(request: pytest.FixtureRequest) -> Stores:
    """Opens one backing store per test; each writer gets its own client of it, as each process has."""
    if request.param == "fake":
        memory = MemoryRecords()

        @contextlib.asynccontextmanager
        async def fake() -> AsyncIterator[RecordStore]:
            yield memory

        return fake
    if request.param == "dynamodb":
        request.getfixturevalue("aws")
        create_sent_log_table()

        @contextlib.asynccontextmanager
        async def dynamodb() -> AsyncIterator[RecordStore]:
            yield DynamoRecords(SENT_LOG_TABLE, boto3.client("dynamodb"))

        return dynamodb
    server: NatsServer = request.getfixturevalue("nats_server")

    @contextlib.asynccontextmanager
    async def kv() -> AsyncIterator[RecordStore]:
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            try:
                bucket = await js.key_value(WORKER.dedupe_bucket)
            except nats.js.errors.BucketNotFoundError:
                bucket = await js.create_key_value(bucket=WORKER.dedupe_bucket, history=1)
            yield NatsKvRecords(bucket)
        finally:
            await nc.close()

    return kv
