"""What a sent log asks of a store: create, read (one key, or many for the change
feed), compare-and-set replace and delete, put, scan.
DynamoDB (dynamo_sent_log.py), JetStream KV (nats_sent_log.py) and the tests' dict implement it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping
from typing import Protocol

Fields = dict[str, str | float]
# What a read gives, with its revision: only read (a store may hand out what it holds, not a copy).
Stored = Mapping[str, str | float]
Held = tuple[Stored, str]


class Changed(Exception):
    """A compare-and-set lost: the key exists (create) or no longer holds the revision given."""


class RecordStore(Protocol):
    """A store's primitives. Each raises Changed when its condition fails and SentLogError when the store
    fails or its answer is lost (the write may then have been stored or not)."""

    async def create(self, key: str, fields: Fields) -> str:
        """Store `fields` under an absent key; returns the new revision."""
        ...

    async def read(self, key: str) -> Held | None: ...

    async def read_many(self, keys: Collection[str]) -> dict[str, Held]:
        """What `read` gives for each of `keys`, as consistent and with the same revisions, in as few
        round trips as the store allows; an absent key is left out."""
        ...

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        """Store `fields` if the key still holds `revision`; returns the new revision."""
        ...

    async def delete(self, key: str, revision: str) -> None:
        """Drop the key if it still holds `revision`."""
        ...

    async def put(self, key: str, fields: Fields) -> str:
        """Store `fields` whatever the key holds."""
        ...

    def scan(self) -> AsyncIterator[tuple[str, Stored]]:
        """Every key and its fields, for operators."""
        ...
