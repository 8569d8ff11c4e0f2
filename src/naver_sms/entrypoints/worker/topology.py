"""Create the streams, the durable consumer and the dedupe bucket when absent; never alter existing ones."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, KeyValueConfig, StreamConfig
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from naver_sms.settings.model import Retention, WorkerSettings

log = logging.getLogger("naver_sms.worker")

DUPLICATE_WINDOW_SECONDS = 600.0
FETCH_BATCH = 256  # messages queued for the handlers, at most: the size of a pull request


SECONDS_PER_DAY = 86_400
BYTES_PER_MB = 1024 * 1024


async def _ensure_stream(
    js: JetStreamContext, name: str, subjects: list[str], limits: Retention, replicas: int
) -> None:
    try:
        await js.stream_info(name)
        return
    except NotFoundError:
        pass
    config = StreamConfig(
        name=name,
        subjects=subjects,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=limits.max_age_days * SECONDS_PER_DAY,
        max_bytes=limits.max_mb * BYTES_PER_MB,
        num_replicas=replicas,
    )
    try:
        await js.add_stream(config)
    except BadRequestError as err:
        # Streams made before the DLQ had its own (dead letters inside the events stream) still work:
        # keep them, never alter them.
        if "subjects overlap" not in str(err):
            raise
        log.info(
            "a stream already captures these subjects; keeping it",
            extra={"stream": name, "subjects": subjects},
        )


async def ensure_topology(js: JetStreamContext, w: WorkerSettings) -> ConsumerInfo:
    """The streams and the consumer, made when absent; returns the consumer as the server has it."""
    await _ensure_stream(js, w.stream, [w.subject], w.retention.events, w.replicas)
    await _ensure_stream(js, w.dlq_stream, [w.dlq_subject], w.retention.dead_letters, w.replicas)
    await _ensure_stream(
        js, w.notifications_stream, [w.sent_subject, w.failed_subject], w.retention.notifications, w.replicas
    )
    consumer = ConsumerConfig(
        durable_name=w.durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=w.ack_wait_seconds,
        max_deliver=w.max_deliver,
        filter_subject=w.subject,
        # Room for one pull's messages queued and one pull's arriving, beside the events being handled.
        max_ack_pending=w.concurrency + 2 * FETCH_BATCH,
    )
    try:
        existing: ConsumerInfo = await js.consumer_info(w.stream, w.durable)  # nats-py leaves it untyped
        return existing
    except NotFoundError:
        return await js.add_consumer(w.stream, consumer)


def live_max_deliver(consumer: ConsumerInfo) -> int | None:
    """The consumer's limit as the server has it (an existing consumer keeps its own); None: unlimited."""
    limit = consumer.config.max_deliver
    return limit if limit is not None and limit > 0 else None


async def dedupe_bucket(js: JetStreamContext, w: WorkerSettings) -> KeyValue:
    try:
        return await js.key_value(w.dedupe_bucket)
    except BucketNotFoundError:
        limits = w.retention.sent_log
        return await js.create_key_value(
            KeyValueConfig(
                bucket=w.dedupe_bucket,
                history=1,
                ttl=limits.max_age_days * SECONDS_PER_DAY,
                max_bytes=limits.max_mb * BYTES_PER_MB,
                replicas=w.replicas,
            )
        )
