"""Small honest fakes of our own ports (application/ports.py), for fast unit tests of the use cases.

FakeSentLog is the real sent-log lifecycle (adapters/sent_log.py) over MemoryRecords, a record store in
a dict that compares-and-sets as DynamoDB and JetStream KV do: tests/integration/test_sent_logs.py runs
one contract suite over it and over both real stores, so what passes here passes there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from types import MappingProxyType

from naver_sms.adapters.claim_record import HANDSET, OPEN, RECONCILE, SWEEP, decode, listed
from naver_sms.adapters.record_store import Held, Stored
from naver_sms.adapters.seen_bookings import BASELINE_KEY, StoreSeenBookings
from naver_sms.adapters.sent_log import Changed, Fields, StoreSentLog
from naver_sms.application.errors import (
    LoginFailed,
    MessageNotFound,
    NotDelivered,
    OutcomeUnknown,
    Refused,
    SentMessagesError,
    SessionExpired,
    SourceRefused,
    WindowRefused,
)
from naver_sms.application.ports import Claim, ClaimState, HandsetResult, Processing, Published, SentMessage
from naver_sms.domain.events import BookingEvent
from naver_sms.domain.feed import Seen
from naver_sms.domain.messages import PlannedMessage


class MemoryRecords:
    """A RecordStore in a dict: each write gets a new revision, and conditions compare it. What it
    stores is a read-only copy, so a read hands out what it holds (a reader cannot change the store)."""

    def __init__(self) -> None:
        self.items: dict[str, Held] = {}
        self._revisions = count(1)

    def _stored(self, key: str, fields: Fields) -> str:
        revision = str(next(self._revisions))
        self.items[key] = (MappingProxyType(dict(fields)), revision)
        return revision

    def _holding(self, key: str, revision: str) -> None:
        if key not in self.items or self.items[key][1] != revision:
            raise Changed

    async def create(self, key: str, fields: Fields) -> str:
        if key in self.items:
            raise Changed
        return self._stored(key, fields)

    async def read(self, key: str) -> Held | None:
        return self.items.get(key)

    async def read_many(self, keys: Collection[str]) -> dict[str, Held]:
        return {key: held for key in keys if (held := self.items.get(key)) is not None}

    async def replace(self, key: str, fields: Fields, revision: str) -> str:
        self._holding(key, revision)
        return self._stored(key, fields)

    async def delete(self, key: str, revision: str) -> None:
        self._holding(key, revision)
        del self.items[key]

    async def put(self, key: str, fields: Fields) -> str:
        return self._stored(key, fields)

    async def scan(self) -> AsyncIterator[tuple[str, Stored]]:
        for key, (fields, _) in list(self.items.items()):
            yield key, fields


class FakeSentLog(StoreSentLog):
    """The sent log over MemoryRecords, with synchronous looks at what it holds for the tests' asserts."""

    def __init__(self, owner: str = "test:1") -> None:
        self.records = MemoryRecords()
        super().__init__(self.records, owner)

    def held(self, message: PlannedMessage) -> Claim | None:
        found = self.records.items.get(message.idempotency_key)
        return None if found is None else decode(*found)

    def state(self, message: PlannedMessage) -> ClaimState | None:
        found = self.held(message)
        return None if found is None else found.state

    def planted(self, message: PlannedMessage, owner: str, at: float) -> Claim:
        """A claim another sender made (and perhaps died holding): a writer of its own on these records."""
        claim, created = asyncio.run(StoreSentLog(self.records, owner).claim(message, at))
        assert created
        return claim


class Killed(Exception):
    """The Lambda killed at its timeout, played by a fake that raises it where the kill comes."""


class FakeSeenBookings(StoreSeenBookings):
    """The change feed's store over MemoryRecords (its own, or the sent log's: they share a table),
    with synchronous looks for the tests' asserts. `killed_before_record` kills the run at its first
    record, after every delivery: what a Lambda timed out between the two leaves behind."""

    def __init__(self, records: MemoryRecords | None = None) -> None:
        self.records = records if records is not None else MemoryRecords()
        self.killed_before_record = False
        super().__init__(self.records)

    def baseline(self) -> bool:
        return BASELINE_KEY in self.records.items

    def held(self, booking_id: str) -> Seen | None:
        return asyncio.run(self.read({booking_id: ""}))[booking_id].seen  # "": whatever it holds

    async def record(self, booking_id: str, seen: Seen, revision: str | None) -> bool:
        if self.killed_before_record:
            raise Killed("the function timed out")
        return await super().record(booking_id, seen, revision)


class MemoryOpenClaims:
    """OpenClaims over MemoryRecords: what DynamoDB's sparse `open` index lists, read from the dict."""

    def __init__(self, records: MemoryRecords) -> None:
        self._records = records

    def _with(self, *values: str) -> list[tuple[PlannedMessage, Claim]]:
        return [
            listed(key, fields, revision)
            for key, (fields, revision) in list(self._records.items.items())
            if fields.get(OPEN) in values
        ]

    async def open_claims(self) -> list[tuple[PlannedMessage, Claim]]:
        return self._with(SWEEP)

    async def to_reconcile(self) -> list[tuple[PlannedMessage, Claim]]:
        return self._with(RECONCILE, HANDSET)


Answer = Callable[[PlannedMessage], str]


def accepted(message: PlannedMessage) -> str:
    return f"req-{message.idempotency_key[:8]}"


def not_delivered(retry_after: float | None = None) -> Answer:
    def answer(message: PlannedMessage) -> str:
        raise NotDelivered("connection refused", retry_after=retry_after)

    return answer


def refused(message: PlannedMessage) -> str:
    raise Refused("SENS refused the message: HTTP 400")


def unknown(message: PlannedMessage) -> str:
    raise OutcomeUnknown("SENS answered HTTP 503")


def crashes(message: PlannedMessage) -> str:
    raise RuntimeError("a bug in the transport")


@dataclass
class FakeTransport:
    """Answers each send with `answer` and remembers every message it was asked to send."""

    answer: Answer = accepted
    sent: list[PlannedMessage] = field(default_factory=list)
    closed: bool = False

    async def send(self, message: PlannedMessage) -> str:
        self.sent.append(message)
        return self.answer(message)

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeAuth:
    """Each login a new session cookie, as Naver gives; `fail` makes the next logins fail."""

    logins: int = 0
    fail: bool = False

    async def login(self) -> Mapping[str, str]:
        if self.fail:
            raise LoginFailed("login rejected: 'Wrong ID or password'")
        self.logins += 1
        return {"NID_SES": f"session-{self.logins}"}


@dataclass
class FakeBookingSource:
    """Pages of records; a session it has forgotten (`forgotten`, or all of them from `forget_at_page`)
    is refused as Naver refuses it."""

    records: Sequence[object]
    page_size: int = 2
    seen_cookies: list[Mapping[str, str]] = field(default_factory=list)
    pages_read: list[int] = field(default_factory=list)
    forgotten: set[str] = field(default_factory=set)
    forget_at_page: int | None = None
    refuse: SourceRefused | None = None  # raised for every fetch while set, as a rate-limiting Naver

    async def fetch(self, cookies: Mapping[str, str]) -> Sequence[object]:
        self.seen_cookies.append(cookies)
        if self.refuse is not None:
            raise self.refuse
        records: list[object] = []
        for page, start in enumerate(range(0, max(len(self.records), 1), self.page_size), start=1):
            if page == self.forget_at_page:
                self.forget_at_page = None
                self.forgotten.add(cookies["NID_SES"])
            if cookies["NID_SES"] in self.forgotten:
                raise SessionExpired(f"page {page}: HTTP 401")
            self.pages_read.append(page)
            records.extend(self.records[start : start + self.page_size])
        return records


@dataclass
class FakeClock:
    """Seconds since the epoch, moved by the test (or by a slow fake)."""

    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeSentMessages:
    """SENS's record of what it accepted, in a list: read whole or refused, as the SentMessages port
    promises. `fail` is raised by every read while set; `slow_seconds` moves `clock` on at each read
    (a slow SENS, against a pass's time budget); `repeat` lists every message twice (a repeated page)."""

    clock: FakeClock
    messages: list[SentMessage] = field(default_factory=list)
    fail: SentMessagesError | None = None
    slow_seconds: float = 0.0
    repeat: bool = False
    reads: list[str] = field(default_factory=list)

    def accept(
        self,
        to: str,
        content: str | None,
        at: float,
        status: Processing | None = Processing.COMPLETED,
        *,
        result: HandsetResult | None = None,
    ) -> SentMessage:
        n = len(self.messages) + 1
        if status is Processing.COMPLETED and result is None:
            result = HandsetResult("0", True, "success", "SKT")
        sent = SentMessage(
            f"req-{n}", f"msg-{n}", datetime.fromtimestamp(at, UTC), to, content, status, result
        )
        self.messages.append(sent)
        return sent

    def _read(self, what: str) -> None:
        self.reads.append(what)
        self.clock.now += self.slow_seconds
        if self.fail is not None:
            raise self.fail

    async def by_request(self, request_id: str) -> list[SentMessage]:
        self._read(f"request {request_id}")
        return [m for m in self.messages if m.request_id == request_id]

    async def in_window(self, start: datetime, end: datetime) -> list[SentMessage]:
        self._read(f"window {start.isoformat()} {end.isoformat()}")
        if start.timestamp() < self.clock() - 90 * 86_400:
            raise WindowRefused("reaches past the 90 days SENS keeps")
        found = [m for m in self.messages if start <= m.request_time <= end]
        return found * 2 if self.repeat else found

    async def message(self, message_id: str) -> SentMessage:
        self._read(f"message {message_id}")
        for sent in self.messages:
            if sent.message_id == message_id:
                return sent
        raise MessageNotFound(f"SENS knows no message {message_id!r}")

    async def close(self) -> None:
        pass


class FakePublisher:
    """The worker's stream as the change feed's publisher sees it (application/ports.EventPublisher):
    events in order, an id it has already dropped as JetStream's duplicate window drops it.
    `refuse_after`: that many events are acknowledged, the rest refused as a subject no stream takes is."""

    def __init__(self) -> None:
        self.stream: list[BookingEvent] = []
        self.handed: list[str] = []  # every event id handed in, repeats included
        self.refuse_after: int | None = None

    async def publish(self, events: Sequence[BookingEvent], *, go_on: Callable[[], bool]) -> Published:
        acknowledged: set[str] = set()
        for event in events:
            if not go_on():
                return Published(frozenset(acknowledged), "the deadline came: the rest left for the next run")
            if self.refuse_after is not None and len(acknowledged) >= self.refuse_after:
                return Published(
                    frozenset(acknowledged), "NoStreamResponseError: nats: no response from stream"
                )
            self.handed.append(event.event_id)
            if event.event_id not in {e.event_id for e in self.stream}:
                self.stream.append(event)
            acknowledged.add(event.event_id)
        return Published(frozenset(acknowledged))
