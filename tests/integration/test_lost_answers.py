"""Sent logs whose answers get lost, against real servers: what a leader moving in a NATS cluster, a node
dying mid-request, or a dropped DynamoDB response does to a claim. A server frozen (SIGSTOP) past the
client's timeout and then resumed stores what the client gave up on; a cutting proxy loses the request
on its way, so the server never sees it. The worker's side of it: test_worker's frozen-server test."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import boto3
import nats
import pytest
from botocore.config import Config

from naver_sms.adapters.dynamo_sent_log import dynamo_sent_log
from naver_sms.adapters.nats_sent_log import nats_sent_log
from naver_sms.adapters.sent_log import StoreSentLog
from naver_sms.application.errors import SentLogError
from naver_sms.application.ports import Claim, ClaimState
from naver_sms.domain.messages import PlannedMessage
from tests.support.cutting_proxy import CuttingProxy
from tests.support.moto import SENT_LOG_TABLE, create_sent_log_table, moto_server
from tests.support.nats_server import NatsServer
from tests.support.procs import frozen
from tests.support.topology import WORKER
from tests.support.worker import run

T = TypeVar("T")
TIMEOUT = 0.5  # the client's wait for an answer; the server stays frozen longer than this
MESSAGE = PlannedMessage("confirmation", "bk-1", "01012345678", "text", "k" * 40)


@contextlib.asynccontextmanager
async def sent_logs(url: str, *owners: str) -> AsyncIterator[list[StoreSentLog]]:
    """One sent log per owner, each on its own connection, as each worker has."""
    connections = [await nats.connect(url, reconnect_time_wait=0.05) for _ in owners]
    try:
        await connections[0].jetstream().create_key_value(bucket=WORKER.dedupe_bucket, history=1)
        yield [
            nats_sent_log(await nc.jetstream(timeout=TIMEOUT).key_value(WORKER.dedupe_bucket), owner)
            for nc, owner in zip(connections, owners, strict=True)
        ]
    finally:
        for nc in connections:
            await nc.close()


async def claim_whose_answer_is_lost(server: NatsServer, log: StoreSentLog, now: float) -> None:
    with server.frozen(), pytest.raises(SentLogError, match="Timeout"):
        await log.claim(MESSAGE, now)
    assert await read_back(log, until=lambda held: held is not None), "the resumed server lost the claim"


async def read_back(
    log: StoreSentLog, until: Callable[[Claim | None], bool] = lambda _: True
) -> Claim | None:
    """What the store holds for MESSAGE once `until` holds for it, or after 10 s; read again meanwhile,
    through a lost connection too."""
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(SentLogError):
            held = await log.lookup(MESSAGE)
            if until(held) or time.monotonic() > deadline:
                return held
        assert time.monotonic() < deadline, "the sent log never answered"
        await asyncio.sleep(0.05)


def test_a_claim_whose_answer_was_lost_is_taken_over_by_its_writer_and_by_nobody_else(
    nats_server: NatsServer,
) -> None:
    async def scenario() -> None:
        async with sent_logs(nats_server.url, "worker:a", "worker:b") as (mine, theirs):
            lost_at = time.time()
            await claim_whose_answer_is_lost(nats_server, mine, lost_at)
            # Another worker cannot tell it from a send in progress: it leaves it alone.
            seen, created = await theirs.claim(MESSAGE, lost_at + 1)
            assert not created and seen.state is ClaimState.CLAIMED and seen.owner == "worker:a"
            # Its writer knows nothing was sent under it: the claim is its own, renewed from now.
            claim, created = await mine.claim(MESSAGE, lost_at + 2)
            assert created and claim.at == lost_at + 2 and claim.revision != seen.revision
            # Taken over once: a second try of the same message finds it in flight.
            again, created = await mine.claim(MESSAGE, lost_at + 3)
            assert not created and again.revision == claim.revision
            await mine.confirm(MESSAGE, "req-1")
            confirmed = await theirs.lookup(MESSAGE)
            assert confirmed is not None and confirmed.state is ClaimState.SENT

    run(scenario())


def test_an_answered_claim_of_the_same_writer_is_never_taken_over(nats_server: NatsServer) -> None:
    """The same process may hold the message twice (a redelivery while it sends): only a claim whose
    answer was lost is known to have nothing sent under it."""

    async def scenario() -> None:
        async with sent_logs(nats_server.url, "worker:a") as (mine,):
            now = time.time()
            first, created = await mine.claim(MESSAGE, now)
            assert created
            second, created = await mine.claim(MESSAGE, now)
            assert not created and second.revision == first.revision

    run(scenario())


def test_a_lost_claim_reported_unknown_meanwhile_stays_unknown(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        async with sent_logs(nats_server.url, "worker:a", "worker:b") as (mine, theirs):
            lost_at = time.time()
            await claim_whose_answer_is_lost(nats_server, mine, lost_at)
            stale, _ = await theirs.claim(MESSAGE, lost_at + 200)
            assert await theirs.mark_unknown(MESSAGE, stale, "never confirmed")
            claim, created = await mine.claim(MESSAGE, lost_at + 201)
            assert not created and claim.state is ClaimState.UNKNOWN

    run(scenario())


def test_a_release_that_never_reached_the_server_leaves_the_claim_to_its_writer(
    nats_server: NatsServer,
) -> None:
    """A send known not to have gone out releases its claim; if that release is lost, the claim stays.
    Its writer takes it over on its next try, rather than everyone waiting for the lease to call it
    unknown and the SMS never going out."""

    async def scenario() -> None:
        async with (
            CuttingProxy(nats_server.port) as proxy,
            sent_logs(proxy.url, "worker:a", "worker:b") as (mine, theirs),
        ):
            now = time.time()
            claim, _ = await mine.claim(MESSAGE, now)
            async with proxy.losing():
                with pytest.raises(SentLogError, match="Timeout"):
                    await mine.release(MESSAGE, claim)
            held = await read_back(theirs)
            assert held is not None and held.revision == claim.revision, "the release reached the server"
            assert not (await theirs.claim(MESSAGE, now + 1))[1]
            again, created = await mine.claim(MESSAGE, now + 2)
            assert created and again.revision != claim.revision

    run(scenario())


def test_a_confirmation_that_never_reached_the_server_is_written_by_the_sender_next_time(
    nats_server: NatsServer,
) -> None:
    """Else the claim of an SMS that went out would be reported unknown once its lease ends."""

    async def scenario() -> None:
        async with (
            CuttingProxy(nats_server.port) as proxy,
            sent_logs(proxy.url, "worker:a", "worker:b") as (mine, theirs),
        ):
            now = time.time()
            await mine.claim(MESSAGE, now)
            async with proxy.losing():
                with pytest.raises(SentLogError, match="Timeout"):
                    await mine.confirm(MESSAGE, "req-1")
            held = await read_back(theirs)
            assert held is not None and held.state is ClaimState.CLAIMED, (
                "the confirmation reached the server"
            )
            seen, created = await mine.claim(MESSAGE, now + 2)
            assert not created and (seen.state, seen.provider_id) == (ClaimState.SENT, "req-1")
            stored = await theirs.lookup(MESSAGE)
            assert stored is not None and (stored.state, stored.provider_id) == (ClaimState.SENT, "req-1")

    run(scenario())


@pytest.fixture
def impatient_dynamodb() -> Iterator[tuple[StoreSentLog, subprocess.Popen[bytes]]]:
    """A DynamoDB sent log on a moto server of its own (to freeze), with a short read timeout."""
    with moto_server() as (url, process):  # moto's credentials come from the clean_env fixture
        create_sent_log_table(client=boto3.client("dynamodb", endpoint_url=url))
        impatient = Config(read_timeout=TIMEOUT, retries={"mode": "standard", "max_attempts": 10})
        yield (
            dynamo_sent_log(
                SENT_LOG_TABLE, "lambda:a", boto3.client("dynamodb", endpoint_url=url, config=impatient)
            ),
            process,
        )


def answered_after_a_freeze(process: subprocess.Popen[bytes], call: Callable[[], T]) -> T:
    """`call`'s result, its first try sent to a frozen server: botocore retries once it is resumed."""
    with ThreadPoolExecutor(1) as pool:
        with frozen(process):
            pending = pool.submit(call)
            time.sleep(TIMEOUT * 3)  # the first try times out unanswered
        return pending.result(timeout=60)


def test_a_dynamodb_claim_whose_answer_was_lost_is_still_its_claimers(
    impatient_dynamodb: tuple[StoreSentLog, subprocess.Popen[bytes]],
) -> None:
    """botocore retries a put that got no answer; the retry finds the claim its lost try stored."""
    log, process = impatient_dynamodb
    now = time.time()
    claim, created = answered_after_a_freeze(process, lambda: asyncio.run(log.claim(MESSAGE, now)))
    assert created and claim.owner == "lambda:a" and claim.at == now
    # A new claim of the same message, even by the same claimer, is not this one.
    again, created = asyncio.run(log.claim(MESSAGE, now))
    assert not created and again.state is ClaimState.CLAIMED


def test_a_dynamodb_unknown_mark_whose_answer_was_lost_is_still_its_markers(
    impatient_dynamodb: tuple[StoreSentLog, subprocess.Popen[bytes]],
) -> None:
    """Else the marker would read the mark as another reader's and nobody would report the claim."""
    log, process = impatient_dynamodb
    claim, _ = asyncio.run(log.claim(MESSAGE, time.time() - 600))
    marked = answered_after_a_freeze(
        process, lambda: asyncio.run(log.mark_unknown(MESSAGE, claim, "never confirmed"))
    )
    assert marked
    assert not asyncio.run(log.mark_unknown(MESSAGE, claim, "a second reader"))
