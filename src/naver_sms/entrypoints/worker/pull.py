"""JetStream's pull protocol, with the messages taken by a subscription callback into the handlers' queue.

nats-py's `fetch()` waits for each message of a batch with a timer task of its own, which costs more than
handling a dry-run event. Here one pull request at a time asks for as many messages as the queue has
room for; the server answers with messages, then (when it had fewer) a status that ends the request.
A request that gets no answer at all (a reconnect lost it) is given up after its expiry, and pulled again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header

HEARTBEAT = "100"  # idle heartbeat or flow control: not the end of a request
NO_MESSAGES = frozenset({"404", "408"})  # none now, request expired: any other status refuses it
ANSWER_MARGIN_SECONDS = 1.0  # past a request's expiry, it was lost (a reconnect) rather than late


class PullRefused(Exception):
    """The server ended a pull request with a status other than "no messages (yet)"."""


class PullFeed:
    def __init__(self, nc: Client, stream: str, durable: str, queue: asyncio.Queue[Msg]) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._queue = queue
        self._inbox = nc.new_inbox()
        self._subscription: Subscription | None = None
        self._wanted = 0  # messages the open request may still bring
        self._answered = asyncio.Event()
        self._refusal = ""  # why the server ended the open request, when it was not for lack of messages

    async def start(self) -> None:
        self._subscription = await self._nc.subscribe(self._inbox, cb=self._take)

    async def pull(self, batch: int, expires: float) -> None:
        """Ask for up to `batch` messages; returns once the request is answered in full, ended by the
        server, or overdue. The messages go to the queue as they arrive. Raises PullRefused when the
        server refused it (the consumer deleted, a leader change), so the caller can wait a moment."""
        self._wanted = batch
        self._refusal = ""
        self._answered.clear()
        request = {"batch": batch, "expires": int(expires * 1_000_000_000)}
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._answered.wait(), expires + ANSWER_MARGIN_SECONDS)
        if self._refusal:
            raise PullRefused(self._refusal)

    async def stop(self, within: float) -> None:
        """Let the open request end (its expiry bounds the wait), then take no more messages: any that
        still come are redelivered by JetStream after ack_wait."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._answered.wait(), within)
        subscription, self._subscription = self._subscription, None  # stopped once, however often asked
        if subscription is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _take(self, msg: Msg) -> None:
        status = msg.headers.get(Header.STATUS) if msg.headers else None
        if status is None:
            self._queue.put_nowait(msg)
            self._wanted -= 1
            if self._wanted <= 0:
                self._answered.set()
            return
        if status == HEARTBEAT:
            return
        if status not in NO_MESSAGES:
            # e.g. 409: the consumer was deleted, changed leader, or has too many requests waiting.
            self._refusal = f"{status} {(msg.headers or {}).get(Header.DESCRIPTION, '')}".strip()
        self._answered.set()
