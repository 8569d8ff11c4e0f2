"""`make preview`: what the next scheduled run would send, from a file or from the fake Naver through
real Chromium, with moto's DynamoDB as the sent log; nothing is claimed or sent."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from naver_sms.adapters.sent_log import NOT_CLAIMS
from naver_sms.entrypoints.preview import BadBookingsFile, read_bookings
from tests.support.bookings import mixed_bookings, record
from tests.support.fake_naver import FakeNaver
from tests.support.fake_sens import FakeSens
from tests.support.moto import SENT_LOG_TABLE, create_sent_log_table
from tests.support.procs import script

# mixed_bookings() plans these five (tests/support/bookings.py)
PLANNED = {("reminder", "bk-1"), ("thank_you", "bk-3"), ("reminder", "bk-6"), ("thank_you", "bk-7")}
PLANNED |= {("reminder", "bk-8")}


def rows(stdout: str) -> dict[tuple[str, str], list[str]]:
    """The table's rows by (rule, booking): the columns split on runs of two spaces."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("rule"))
    table = []
    for line in lines[start + 2 :]:
        if not line.strip() or not line.startswith(("reminder", "thank_you", "confirmation", "cancellation")):
            break
        table.append([cell.strip() for cell in line.split("  ") if cell.strip()])
    return {(cells[0], cells[1]): cells for cells in table}


def claims() -> list[dict[str, object]]:
    items = boto3.client("dynamodb").scan(TableName=SENT_LOG_TABLE)["Items"]
    return [i for i in items if not str(i["idempotency_key"]["S"]).startswith(NOT_CLAIMS)]


@pytest.fixture
def bookings_file(tmp_path: Path) -> Path:
    path = tmp_path / "bookings.json"
    path.write_text(json.dumps(mixed_bookings(), ensure_ascii=False))
    return path


def test_a_file_needs_no_credentials_and_says_the_sent_log_could_not_be_read(
    bookings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance to ask for credentials
    bad = {"id": "bk-x", "phone": "010-5555-0009", "status": "confirmed"}
    bookings_file.write_text(json.dumps([*mixed_bookings(), bad], ensure_ascii=False))
    out = script("preview.sh", BOOKINGS=str(bookings_file))
    assert out.returncode == 0, out.stderr
    table = rows(out.stdout)
    assert set(table) == PLANNED
    assert table[("reminder", "bk-1")][2] == "010****0001" and table[("reminder", "bk-1")][4] == "new"
    assert "손님1님, 내일" in table[("reminder", "bk-1")][5]
    assert "the sent log could not be read" in out.stdout
    assert "the change feed's store could not be read" in out.stdout and "no events derived" in out.stdout
    assert "5 new (status new) would be sent" in out.stdout
    assert "01055550001" not in out.stdout and "010-5555-0001" not in out.stdout
    assert "invalid: - booking bk-x: booking.customer_name" in out.stdout  # named, not hidden
    assert "0009" not in out.stdout


def test_a_booking_api_page_in_a_file_with_the_sent_log_read_and_the_breaker_named(
    aws: str, tmp_path: Path
) -> None:
    create_sent_log_table()
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"bookings": mixed_bookings(), "next_page": None}))
    out = script("preview.sh", BOOKINGS=str(path), SMS_MAX_PER_RUN="4")
    assert out.returncode == 0, out.stderr
    assert set(rows(out.stdout)) == PLANNED
    assert "could not be read" not in out.stdout
    assert "the change feed has no baseline yet" in out.stdout
    assert "the volume breaker would hold that run" in out.stdout
    assert "reminder 3, thank_you 2" in out.stdout and claims() == []


def test_a_message_sent_before_shows_as_sent(
    aws: str, bookings_file: Path, fake_naver: FakeNaver, fake_sens: FakeSens, browser_env: dict[str, str]
) -> None:
    create_sent_log_table()
    bookings = mixed_bookings()  # one list: a reminder's key is made of its start instant
    fake_naver.state.bookings = list(bookings)
    env = {**fake_naver.env(), **fake_sens.env(), "SMS_DRY_RUN": "false"}
    import main  # the handler, in-process: one real run fills the sent log

    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main.lambda_handler({"action": "run", "dry_run": False}, None)["sent"] == 5
    path = bookings_file
    path.write_text(json.dumps([*bookings, record(9, "confirmed", timedelta(hours=2))]))
    out = script("preview.sh", BOOKINGS=str(path))
    assert out.returncode == 0, out.stderr
    table = rows(out.stdout)
    # bk-9 is new since that run: its reminder, and the change feed's booking.created its confirmation.
    assert {key: cells[4] for key, cells in table.items()} == {
        **{key: "sent" for key in PLANNED},
        ("reminder", "bk-9"): "new",
        ("confirmation", "bk-9"): "new",
    }
    assert "booking events: 1 (booking.created 1), sent by that run" in out.stdout
    assert "2 new (status new) would be sent" in out.stdout
    assert fake_sens.state.received == 5
    held = claims()
    published = script("preview.sh", BOOKINGS=str(path), EVENTS_NATS_URL="nats://127.0.0.1:1")
    assert "published to the worker, which sends their messages" in published.stdout
    assert claims() == held and fake_sens.state.received == 5  # read, never written, sent or published


def test_the_booking_api_through_the_configured_login_claims_and_sends_nothing(
    aws: str, fake_naver: FakeNaver, fake_sens: FakeSens, browser_env: dict[str, str]
) -> None:
    create_sent_log_table()
    fake_naver.state.bookings = mixed_bookings()
    out = script(
        "preview.sh", **fake_naver.env(), **fake_sens.env(), SMS_DRY_RUN="false", APP_ENV="production"
    )
    assert out.returncode == 0, out.stderr
    assert set(rows(out.stdout)) == PLANNED
    assert fake_naver.state.logins == 1 and fake_naver.state.api_calls == 4
    assert fake_sens.state.received == 0 and claims() == []


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"bookings": "none"}', "expected a list of booking records"),
        (b"42", "expected a list of booking records"),
    ],
)
def test_a_bad_bookings_file_is_named_and_nothing_is_planned(
    tmp_path: Path, content: bytes, error: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    out = script("preview.sh", BOOKINGS=str(path))
    assert out.returncode == 2 and error in out.stderr and str(path) in out.stderr
    assert out.stdout == ""


def test_a_missing_bookings_file_is_named(tmp_path: Path) -> None:
    out = script("preview.sh", BOOKINGS=str(tmp_path / "absent.json"))
    assert out.returncode != 0 and "absent.json: no such file" in out.stderr


def test_a_start_at_the_end_of_time_is_no_crash(tmp_path: Path) -> None:
    path = tmp_path / "edge.json"
    edge = record(1, "confirmed", timedelta(hours=3))
    path.write_text(json.dumps([{**edge, "id": "bk-end", "start": "9999-12-31T20:00:00+00:00"}, edge]))
    out = script("preview.sh", BOOKINGS=str(path))
    assert out.returncode == 0, out.stderr
    assert set(rows(out.stdout)) == {("reminder", "bk-1")}


def test_a_bookings_path_that_is_no_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(BadBookingsFile, match="Is a directory"):
        read_bookings(tmp_path)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO with no writer: reading it would block
    try:
        with pytest.raises(BadBookingsFile, match="not a regular file"):
            read_bookings(Path(f"/proc/self/fd/{fd}"))
    finally:
        os.close(fd)
