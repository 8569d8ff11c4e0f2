"""The one way to connect to NATS, for the worker and for `make claims`: servers and credentials from the
composition root, a deadline of our own (nats-py keeps retrying a refused first connection by itself),
and a stop that ends the wait at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import nats
from nats.aio.client import Client

log = logging.getLogger("naver_sms.nats")


class NotConnected(Exception):
    """No connection within the deadline; the message is the last error the client saw."""


class StoppedConnecting(Exception):
    """The stop event was set while connecting."""


async def connect(
    options: Mapping[str, Any],
    *,
    name: str,
    within: float,
    stop: asyncio.Event | None = None,
    on_closed: Callable[[], Awaitable[None]] | None = None,
    reconnect: bool = True,
) -> Client:
    """A connected client. Raises NotConnected after `within` s, StoppedConnecting when `stop` is set first.
    `reconnect`: a service keeps reconnecting and logs each change; a one-shot command does neither."""
    last_error: list[str] = []

    async def on_error(err: Exception) -> None:
        last_error[:] = [f"{type(err).__name__}: {err}"]
        if reconnect:
            log.warning("nats error", extra={"error": last_error[0]})

    async def on_disconnect() -> None:
        log.warning("nats disconnected")

    async def on_reconnect() -> None:
        log.info("nats reconnected")

    callbacks: dict[str, Any] = {"error_cb": on_error}
    if reconnect:
        callbacks.update(disconnected_cb=on_disconnect, reconnected_cb=on_reconnect)
    if on_closed is not None:
        callbacks["closed_cb"] = on_closed
    connecting = asyncio.ensure_future(
        nats.connect(
            name=name,
            allow_reconnect=reconnect,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            **callbacks,
            **options,
        )
    )
    stopping = asyncio.ensure_future((stop or asyncio.Event()).wait())
    done, _ = await asyncio.wait({connecting, stopping}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if connecting in done and connecting.exception() is None:
        return connecting.result()
    connecting.cancel()
    with contextlib.suppress(BaseException):
        await connecting
    if stop is not None and stop.is_set():
        raise StoppedConnecting
    if last_error:
        raise NotConnected(last_error[-1])
    raise NotConnected(repr(connecting.exception()) if connecting in done else "no answer")
