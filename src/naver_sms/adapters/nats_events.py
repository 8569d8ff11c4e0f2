"""The change feed's publisher (application/ports.EventPublisher): each booking event to the worker's
JetStream subject with `Nats-Msg-Id` = its event id, so the stream's duplicate window drops the same
change handed on twice. A connection per run, closed before the run returns: a Lambda environment is
frozen between invocations, and a connection kept across a freeze is a dead one found late.

The only module of the Lambda image that imports nats-py (with nats_connection.py, which it uses), and
only when the feed publishes: the Lambda's root imports it then, so its init time is unchanged otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from nats.errors import Error as NatsError

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
        *,
        connect_seconds: float,
        publish_timeout_seconds: float,
    ) -> None:
        """`options`: nats.connect's servers and credentials, asked for at each publish (so a rotated
        secret is read again)."""
        self._options = options
        self.subject = subject
        self._connect_seconds = connect_seconds
        self._timeout = publish_timeout_seconds

    async def publish(self, events: Sequence[BookingEvent]) -> Published:
        if not events:
            return Published(frozenset())
        try:
            nc = await connect(
                self._options(), name=CLIENT_NAME, within=self._connect_seconds, reconnect=False
            )
        except NotConnected as err:
            return Published(frozenset(), f"NATS not reached: {err}")
        acknowledged: set[str] = set()
        duplicates = 0
        try:
            js = nc.jetstream(timeout=self._timeout)
            for event in events:
                payload = orjson.dumps(event_to_mapping(event))
                try:
                    ack = await js.publish(
                        self.subject, payload, timeout=self._timeout, headers={"Nats-Msg-Id": event.event_id}
                    )
                except (NatsError, TimeoutError, OSError) as err:
                    # No stream on the subject: NoStreamResponseError; a full stream: an APIError.
                    return Published(frozenset(acknowledged), f"{type(err).__name__}: {err}".rstrip(": "))
                acknowledged.add(event.event_id)
                duplicates += bool(ack.duplicate)
        finally:
            await nc.close()
        if duplicates:
            log.info("events the stream had already (handed on before)", extra={"duplicates": duplicates})
        return Published(frozenset(acknowledged))
