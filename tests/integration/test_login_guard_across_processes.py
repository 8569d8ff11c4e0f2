"""The login guard across separate OS processes (as separate Lambda execution environments) sharing
moto's DynamoDB, and `make login-guard`, which an operator clears it with."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import boto3

from tests.support.moto import SENT_LOG_TABLE, create_sent_log_table
from tests.support.procs import REPO, repo_env, script

USERNAME, PASSWORD = "shop-owner-Planted-3", "pw-Planted-3"
ACCOUNT = {"NAVER_USERNAME": USERNAME, "NAVER_PASSWORD": PASSWORD}
# config/settings.yaml's login page, as an operator might write it: the guard's record is the same.
NAVER_LOGIN_URL = "HTTPS://NID.Naver.com/nidlogin.login/"

# One execution environment: the guard as the Lambda builds it, then each step of argv in turn, one
# JSON line per step. With `--wait` it first makes its client and reads the table, says `ready` and
# waits for a line on stdin, so two of them can be let go at once.
ENVIRONMENT = """
import asyncio, json, sys
from naver_sms.application.errors import LoginDeferred
from naver_sms.bootstrap.login_guard import login_guard
from naver_sms.settings import Settings

async def main(steps):
    guard = login_guard(Settings.load())
    if steps[0] == "--wait":
        steps = steps[1:]
        await guard.show()
        print("ready", flush=True)
        sys.stdin.readline()
    for step in steps:
        name, _, reason = step.partition("=")
        try:
            if name == "admit":
                await guard.admit()
            elif name == "fail":
                await guard.failed(reason)
            elif name == "succeed":
                await guard.succeeded()
            else:
                await guard.clear()
        except LoginDeferred as err:
            print(json.dumps({"step": name, "deferred": str(err), "until": err.until}), flush=True)
        else:
            print(json.dumps({"step": name, "ok": True}), flush=True)

asyncio.run(main(sys.argv[1:]))
"""


def env(**extra: str) -> dict[str, str]:
    return repo_env(PYTHONPATH=str(REPO / "src"), **ACCOUNT, **extra)


def environment(*steps: str, account: dict[str, str] | None = None) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-c", ENVIRONMENT, *steps],
        cwd=REPO,
        env={**env(), **(account or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def admitted(outcome: dict[str, Any]) -> bool:
    return outcome.get("ok") is True


def guard_items() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=SENT_LOG_TABLE)["Items"]
    return [item for item in items if item["idempotency_key"]["S"].startswith("login-guard#")]


def test_a_failed_login_in_one_process_defers_the_next_until_an_operator_clears_it(aws: str) -> None:
    create_sent_log_table()
    a = environment("admit", "fail=login rejected: 'Wrong ID or password'")
    assert all(map(admitted, a))
    (b,) = environment("admit")
    assert not admitted(b)
    assert "1 failed login(s) in a row" in b["deferred"] and "Wrong ID or password" in b["deferred"]
    assert "(10 min from now)" in b["deferred"] and "make login-guard ACTION=clear" in b["deferred"]

    shown = script("login-guard.sh", **env())
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert state["failures_in_a_row"] == 1 and state["next_login"] == state["blocked_until"]
    assert "make login-guard ACTION=clear" in shown.stderr

    cleared = subprocess.run(
        ["make", "--no-print-directory", "login-guard", "ACTION=clear"],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["cleared"]["failures_in_a_row"] == 1
    assert "cleared" in cleared.stderr
    (b,) = environment("admit")
    assert admitted(b)
    assert json.loads(script("login-guard.sh", **env()).stdout)["failures_in_a_row"] == 0


def test_the_third_login_in_an_hour_is_deferred_across_processes(aws: str) -> None:
    create_sent_log_table()
    assert all(map(admitted, environment("admit", "succeed")))
    assert all(map(admitted, environment("admit", "succeed")))
    (third,) = environment("admit")
    assert not admitted(third)
    assert "2 login(s) in the last hour already" in third["deferred"]
    state = json.loads(script("login-guard.sh", **env()).stdout)
    assert len(state["logins_last_hour"]) == 2 and state["failures_in_a_row"] == 0


def race() -> list[dict[str, Any]]:
    """Two processes, each ready with its client, let go at once for the same slot."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", ENVIRONMENT, "--wait", "admit"],
            cwd=REPO,
            env=env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", process.stderr
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outcomes = []
        for process in processes:
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            outcomes.append(json.loads(out))
        return outcomes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_two_processes_racing_for_the_last_slot_admit_exactly_one(aws: str) -> None:
    create_sent_log_table()
    for _ in range(3):
        assert all(map(admitted, environment("clear", "admit")))  # one of the hour's two slots left
        outcomes = race()
        assert sum(map(admitted, outcomes)) == 1, outcomes
        (loser,) = [outcome for outcome in outcomes if not admitted(outcome)]
        assert "2 login(s) in the last hour already" in loser["deferred"]


def test_the_guard_record_holds_no_credentials_and_is_not_a_claim(aws: str) -> None:
    create_sent_log_table()
    environment("admit", "fail=login rejected: 'call 010-1234-5678 to unlock'")
    (item,) = guard_items()
    stored = json.dumps(item)
    assert "Planted-3" not in stored  # neither the username nor the password
    assert "010-1234-5678" not in stored and "010****5678" in stored
    shown = script("login-guard.sh", **env())
    assert shown.returncode == 0 and "Planted-3" not in shown.stdout + shown.stderr
    claims = script("claims.sh", STORE="dynamodb", **env())
    assert claims.returncode == 0, claims.stderr
    assert claims.stdout == "" and "login-guard" not in claims.stderr
    assert "0 unresolved claim(s) in the dynamodb sent log" in claims.stderr


def test_an_unreachable_store_admits_no_login(aws: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", ENVIRONMENT, "admit"],
        cwd=REPO,
        env=env(SENT_LOG_TABLE="no-such-table"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode != 0 and out.stdout == ""
    assert "SentLogError" in out.stderr and "ResourceNotFoundException" in out.stderr


def test_operator_errors_say_what_is_wrong(aws: str) -> None:
    no_account = script("login-guard.sh", **{**env(), "NAVER_USERNAME": ""})
    assert no_account.returncode == 2 and "NAVER_USERNAME" in no_account.stderr
    no_table = script("login-guard.sh", **env(SENT_LOG_TABLE="no-such-table"))
    assert no_table.returncode == 1 and "ResourceNotFoundException" in no_table.stderr
    bad_action = script("login-guard.sh", **env(ACTION="reset"))
    assert bad_action.returncode != 0 and "ACTION='reset' is not valid" in bad_action.stderr


def test_the_lambdas_secret_reference_and_the_operators_literal_id_share_one_record(aws: str) -> None:
    create_sent_log_table()
    boto3.client("secretsmanager").create_secret(
        Name="naver-sms/naver", SecretString=json.dumps({"username": USERNAME, "password": PASSWORD})
    )
    lambda_account = {
        "NAVER_USERNAME": "secretsmanager:naver-sms/naver#username",
        "NAVER_PASSWORD": "secretsmanager:naver-sms/naver#password",
    }
    fresh = script("login-guard.sh", **env())
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["record"] == "none yet" and "no record yet" in fresh.stderr

    # The Lambda fails a login; the operator types the ID as they know it (its case, a stray space).
    assert all(map(admitted, environment("admit", "fail=login rejected", account=lambda_account)))
    typed = {**env(), "NAVER_USERNAME": f" {USERNAME.upper()} ", "NAVER_LOGIN_URL": NAVER_LOGIN_URL}
    shown = script("login-guard.sh", **typed)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["failures_in_a_row"] == 1, "the operator sees the Lambda's record"
    cleared = script("login-guard.sh", **typed, ACTION="clear")
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["cleared"]["failures_in_a_row"] == 1
    (again,) = environment("admit", account=lambda_account)
    assert admitted(again), "the Lambda's record was the one cleared"
    assert len(guard_items()) == 1
