"""`make claims` against moto's DynamoDB and a real nats-server: what an operator sees after trouble."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import nats
import pytest

from naver_sms.adapters.dynamo_sent_log import dynamo_sent_log
from naver_sms.adapters.nats_sent_log import nats_sent_log
from naver_sms.adapters.sent_log import StoreSentLog
from naver_sms.application.ports import ClaimState
from naver_sms.domain.messages import PlannedMessage
from tests.support.moto import SENT_LOG_TABLE, create_sent_log_table
from tests.support.nats_server import NatsServer
from tests.support.procs import script
from tests.support.topology import WORKER
from tests.support.worker import run

LEASE = 120.0


def message(n: int) -> PlannedMessage:
    return PlannedMessage("reminder", f"bk-{n}", f"010{n:08d}", "text", f"{n:040d}")


def parse(stdout: str) -> dict[str, str]:
    return {line["booking_id"]: line["status"] for line in map(json.loads, stdout.splitlines())}


EXPECTED = {"bk-2": "unknown", "bk-3": "stale", "bk-4": "live"}


async def plant_claims(writer: Callable[[str], StoreSentLog], kind: str) -> None:
    """One confirmed send (not listed), and one claim of each status, each by a writer of its own."""
    now = time.time()
    await writer(f"{kind}:a").claim(message(1), now)
    await writer(f"{kind}:a").confirm(message(1), "req-1")
    log = writer(f"{kind}:b")
    claim, _ = await log.claim(message(2), now)
    assert await log.mark_unknown(message(2), claim, "no answer from SENS within 8 s")
    await writer(f"{kind}:dead").claim(message(3), now - LEASE - 60)
    held, _ = await writer(f"{kind}:busy").claim(message(4), now)
    assert held.state is ClaimState.CLAIMED


def test_dynamodb_claims_are_listed_by_status(aws: str) -> None:
    create_sent_log_table()
    run(plant_claims(lambda owner: dynamo_sent_log(SENT_LOG_TABLE, owner), "lambda"))
    out = script("claims.sh", STORE="dynamodb")
    assert out.returncode == 0, out.stderr
    assert parse(out.stdout) == EXPECTED
    assert "3 unresolved claim(s) in the dynamodb sent log: 1 unknown, 1 stale, 1 live" in out.stderr
    assert "0100000000" not in out.stdout  # no phone numbers


async def plant_nats_claims(url: str) -> None:
    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().create_key_value(bucket=WORKER.dedupe_bucket, history=1)
        await plant_claims(lambda owner: nats_sent_log(kv, owner), "worker")
    finally:
        await nc.close()


def test_nats_claims_are_listed_by_status(nats_server: NatsServer) -> None:
    run(plant_nats_claims(nats_server.url))
    out = script("claims.sh", STORE="nats", NATS_URL=nats_server.url)
    assert out.returncode == 0, out.stderr
    assert parse(out.stdout) == EXPECTED


async def plant_nats_claims_as(url: str, **credentials: str) -> None:
    nc = await nats.connect(url, **credentials)
    try:
        kv = await nc.jetstream().create_key_value(bucket=WORKER.dedupe_bucket, history=1)
        log = nats_sent_log(kv, "worker:b")
        claim, _ = await log.claim(message(2), time.time())
        assert await log.mark_unknown(message(2), claim, "no answer from SENS within 8 s")
    finally:
        await nc.close()


@pytest.mark.parametrize("auth", ["user", "token"])
def test_nats_claims_connect_as_the_worker_does_to_a_secured_cluster_seed_list(
    tmp_path: Path, auth: str
) -> None:
    flags = {"user": ("--user", "ops", "--pass", "pw-Planted-9"), "token": ("--auth", "tok-Planted-9")}[auth]
    credentials = {"user": {"user": "ops", "password": "pw-Planted-9"}, "token": {"token": "tok-Planted-9"}}
    env = {
        "user": {"NATS_USER": "ops", "NATS_PASSWORD": "pw-Planted-9"},
        "token": {"NATS_TOKEN": "tok-Planted-9"},
    }
    server = NatsServer(tmp_path / "js", *flags)
    server.start()
    try:
        run(plant_nats_claims_as(server.url, **credentials[auth]))
        # A seed list as a cluster is given: one node that is down, then the live one.
        seeds = f"nats://127.0.0.1:1,{server.url}"
        out = script("claims.sh", STORE="nats", NATS_URL=seeds, **env[auth])
        assert out.returncode == 0, out.stderr
        assert parse(out.stdout) == {"bk-2": "unknown"}
        refused = script("claims.sh", STORE="nats", NATS_URL=server.url)  # no credentials
        assert refused.returncode == 1 and "Authorization" in refused.stderr
    finally:
        server.stop()
    assert "Planted-9" not in out.stdout + out.stderr + refused.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STORE": "redis"}, "STORE='redis' is not valid: expected one of: dynamodb nats"),
        ({"STORE": "nats", "NATS_URL": "nats://127.0.0.1:1"}, "cannot read the nats sent log"),
        ({"STORE": "dynamodb", "SENT_LOG_TABLE": "no-such-table"}, "ResourceNotFoundException"),
        ({"STORE": "dynamodb", "CLAIM_LEASE_SECONDS": "soon"}, "CLAIM_LEASE_SECONDS"),
    ],
)
def test_claims_errors_say_what_is_wrong(aws: str, env: dict[str, str], message: str) -> None:
    out = script("claims.sh", **env)
    assert out.returncode != 0
    assert message in out.stderr
