"""Create the streams, the durable consumer and the dedupe bucket when absent; never alter existing ones."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from naver_sms.settings.model import WorkerSettings

DUPLICATE_WINDOW_SECONDS = 600.0


async def _ensure_stream(js: JetStreamContext, name: str, subjects: list[str]) -> None:
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(name=name, subjects=subjects, duplicate_window=DUPLICATE_WINDOW_SECONDS)
        )


async def ensure_topology(js: JetStreamContext, w: WorkerSettings) -> JetStreamContext.PullSubscription:
    await _ensure_stream(js, w.stream, [w.subject, w.dlq_subject])
    await _ensure_stream(js, w.notifications_stream, [w.sent_subject, w.failed_subject])
    consumer = ConsumerConfig(
        durable_name=w.durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=w.ack_wait_seconds,
        max_deliver=w.max_deliver,
        filter_subject=w.subject,
        max_ack_pending=w.concurrency * 4,
    )
    return await js.pull_subscribe(w.subject, durable=w.durable, stream=w.stream, config=consumer)


async def live_max_deliver(subscription: JetStreamContext.PullSubscription) -> int | None:
    """The consumer's limit as the server has it (an existing consumer keeps its own); None: unlimited."""
    limit = (await subscription.consumer_info()).config.max_deliver
    return limit if limit is not None and limit > 0 else None


async def dedupe_bucket(js: JetStreamContext, bucket: str) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        return await js.create_key_value(bucket=bucket, history=1)
