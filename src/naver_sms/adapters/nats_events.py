"""The change feed's publisher (application/ports.EventPublisher): each booking event to the worker's
JetStream subject with `Nats-Msg-Id` = its event id, so the stream's duplicate window (the worker's
streams: 10 minutes) drops the same change handed on twice within it; past it, the worker's sent log
answers its messages as duplicates. A connection per run, closed before the run returns: a Lambda
environment is frozen between invocations, and a connection kept across a freeze is a dead one found
late.

The only module of the Lambda image that imports nats-py (with nats_connection.py, which it uses), and
only when the feed publishes: the Lambda's root imports it then, so its init time is unchanged otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from nats.aio.client import Client

from naver_sms.adapters.nats_connection import NotConnected, connect
from naver_sms.application.ports import Published
from naver_sms.domain.events import BookingEvent, event_to_mapping

log = logging.getLogger(__name__)
CLIENT_NAME = "naver-sms-feed"


class NatsEventPublisher:
    def __init__(
        self,
        options: Callable[[], Mapping[str, Any]],
        subject: str,
        stream: str,
        *,
        connect_seconds: float,
        publish_timeout_seconds: float,
    ) -> None:
        """`options`: nats.connect's servers and credentials, asked for at each publish (so a rotated
        secret is read again, and one that cannot be read is this run's publish error, not the run's).
        `stream`: the one stream that must take the events (the worker's): an acknowledgement from any
        other is no hand-off."""
        self._options = options
        self.subject = subject
        self.stream = stream
        self._connect_seconds = connect_seconds
        self._timeout = publish_timeout_seconds

    async def publish(self, events: Sequence[BookingEvent], *, go_on: Callable[[], bool]) -> Published:
        if not events:
            return Published(frozenset())
        try:
            options = self._options()
        except Exception as err:  # noqa: BLE001 - a secret reference unreadable now: the next run tries again
            return Published(frozenset(), f"NATS credentials not read: {type(err).__name__}: {err}")
        try:
            nc = await connect(options, name=CLIENT_NAME, within=self._connect_seconds, reconnect=False)
        except NotConnected as err:
            return Published(frozenset(), f"NATS not reached: {err}")
        acknowledged: set[str] = set()
        try:
            return await self._each(nc, events, go_on, acknowledged)
        finally:
            await nc.close()

    async def _each(
        self, nc: Client, events: Sequence[BookingEvent], go_on: Callable[[], bool], acknowledged: set[str]
    ) -> Published:
        js = nc.jetstream(timeout=self._timeout)
        duplicates = 0
        for event in events:
            if not go_on():
                return Published(frozenset(acknowledged), "the deadline came: the rest left for the next run")
            payload = orjson.dumps(event_to_mapping(event))
            try:
                # `stream`: the server refuses the message unless that stream takes the subject.
                ack = await js.publish(
                    self.subject,
                    payload,
                    timeout=self._timeout,
                    stream=self.stream,
                    headers={"Nats-Msg-Id": event.event_id},
                )
            # No stream (NoStreamResponseError), a full one (APIError), a responder that is no JetStream
            # (its answer no JSON): each this run's error, never the run's.
            except Exception as err:  # noqa: BLE001
                return Published(frozenset(acknowledged), f"{type(err).__name__}: {err}".rstrip(": "))
            if ack.stream != self.stream:
                return Published(
                    frozenset(acknowledged), f"acknowledged by stream {ack.stream!r}, not {self.stream!r}"
                )
            acknowledged.add(event.event_id)
            duplicates += bool(ack.duplicate)
        if duplicates:
            log.info("events the stream had already (handed on before)", extra={"duplicates": duplicates})
        return Published(frozenset(acknowledged))
