"""SENS's read side over real HTTP against the fake: found, not found, several, across pages, and every
answer that cannot be trusted refused with its typed error, never read as an empty list ("never sent")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from naver_sms.adapters.sens import SensCredentials, SensTransport
from naver_sms.adapters.sens_messages import SensMessages
from naver_sms.adapters.sens_records import window_query
from naver_sms.application.errors import (
    MessageNotFound,
    OddAnswer,
    SentMessagesError,
    SentMessagesRefused,
    SentMessagesUnavailable,
    WindowRefused,
)
from naver_sms.application.ports import Processing
from naver_sms.application.send_policy import SendPolicy
from naver_sms.domain.messages import PlannedMessage
from tests.support import fake_sens as sens_fake
from tests.support.fake_sens import FakeSens
from tests.support.fake_sens_records import Fault

T = TypeVar("T")
PHONE = "01012345678"
RIGHT = SensCredentials(sens_fake.ACCESS_KEY, sens_fake.SECRET_KEY, sens_fake.SERVICE_ID, sens_fake.SENDER)
WRONG = SensCredentials(sens_fake.ACCESS_KEY, "not-the-secret", sens_fake.SERVICE_ID, sens_fake.SENDER)
NOW = datetime.now(UTC)


def read(
    fake: FakeSens,
    call: Callable[[SensMessages], Awaitable[T]],
    *,
    credentials: SensCredentials = RIGHT,
    page_size: int = 100,
    refused: Callable[[], None] = lambda: None,
) -> T:
    async def each() -> T:
        messages = SensMessages(
            fake.url, credentials, timeout=1.0, page_size=page_size, credentials_refused=refused
        )
        try:
            return await call(messages)
        finally:
            await messages.close()

    return asyncio.run(each())


def sent_through_the_transport(fake: FakeSens) -> str:
    async def send() -> str:
        transport = SensTransport(fake.url, RIGHT, SendPolicy(timeout=2.0, max_attempts=1), pool_size=1)
        try:
            return await transport.send(PlannedMessage("r", "bk-1", PHONE, "see you at 3", "k" * 40))
        finally:
            await transport.close()

    return asyncio.run(send())


def test_a_send_is_found_by_its_request_id_with_its_handset_result(fake_sens: FakeSens) -> None:
    request_id = sent_through_the_transport(fake_sens)
    (found,) = read(fake_sens, lambda m: m.by_request(request_id))
    assert (found.request_id, found.to, found.content) == (request_id, PHONE, "see you at 3")
    assert found.status is Processing.COMPLETED and found.result is not None and found.result.delivered
    assert abs(found.request_time - datetime.now(UTC)) < timedelta(minutes=1)
    # The same message read alone, by the id the list gave.
    alone = read(fake_sens, lambda m: m.message(found.message_id))
    assert alone == found


def test_a_window_is_read_across_every_page(fake_sens: FakeSens) -> None:
    planted = [
        fake_sens.state.records.accept(PHONE, f"text {n}", at=NOW - timedelta(minutes=n)) for n in range(5)
    ]
    fake_sens.state.records.accept(PHONE, "outside", at=NOW - timedelta(hours=3))
    found = read(fake_sens, lambda m: m.in_window(NOW - timedelta(hours=1), NOW), page_size=2)
    assert sorted(m.message_id for m in found) == sorted(p["messageId"] for p in planted)
    listed = [path for path in fake_sens.state.records.reads]
    assert len(listed) == 3 and all("requestStartTime=" in path and "%20" in path for path in listed)
    assert [path.rsplit("pageIndex=", 1)[1][0] for path in listed] == ["0", "1", "2"]


def test_a_full_last_page_is_followed_to_the_empty_one(fake_sens: FakeSens) -> None:
    for n in range(4):
        fake_sens.state.records.accept(PHONE, f"text {n}", at=NOW - timedelta(minutes=n))
    found = read(fake_sens, lambda m: m.in_window(NOW - timedelta(hours=1), NOW), page_size=2)
    assert len(found) == 4 and len(fake_sens.state.records.reads) == 2  # hasMore said no after page 1


def test_nothing_listed_is_an_empty_list(fake_sens: FakeSens) -> None:
    assert read(fake_sens, lambda m: m.by_request("no-such-request")) == []
    assert read(fake_sens, lambda m: m.in_window(NOW - timedelta(days=30), NOW)) == []


def test_several_messages_of_one_request_are_all_listed(fake_sens: FakeSens) -> None:
    for phone in (PHONE, "01087654321"):
        fake_sens.state.records.accept(phone, "same text", request_id="req-1")
    found = read(fake_sens, lambda m: m.by_request("req-1"), page_size=1)
    assert sorted(m.to for m in found) == sorted([PHONE, "01087654321"])


def test_a_lagging_list_shows_a_send_once_it_settles(fake_sens: FakeSens) -> None:
    fake_sens.state.records.lag = timedelta(minutes=5)
    request_id = sent_through_the_transport(fake_sens)
    assert read(fake_sens, lambda m: m.by_request(request_id)) == []  # why a reconciler waits to settle
    fake_sens.state.records.lag = timedelta(0)
    assert len(read(fake_sens, lambda m: m.by_request(request_id))) == 1


@pytest.mark.parametrize(
    ("fault", "error", "says"),
    [
        (Fault.SERVER_ERROR, SentMessagesUnavailable, "could not answer now .HTTP 503"),
        (Fault.CUT_SHORT, OddAnswer, r"page 0: cut short \(1 of 2 messages, and more said to follow\)"),
        (Fault.NOT_SENS, OddAnswer, "no 'messages' list: not SENS's answer"),
        (Fault.NOT_JSON, OddAnswer, "not SENS's JSON .HTTP 200: <html>"),
    ],
)
def test_an_answer_that_cannot_be_trusted_is_its_typed_error(
    fake_sens: FakeSens, fault: str, error: type[SentMessagesError], says: str
) -> None:
    for n in range(3):
        fake_sens.state.records.accept(PHONE, f"text {n}", at=NOW - timedelta(minutes=n))
    fake_sens.state.records.fault = fault
    with pytest.raises(error, match=says):
        read(fake_sens, lambda m: m.in_window(NOW - timedelta(hours=1), NOW), page_size=2)


def test_no_answer_in_time_is_unavailable(fake_sens: FakeSens) -> None:
    fake_sens.state.records.delay_seconds = 2.0
    with pytest.raises(SentMessagesUnavailable, match="no answer from SENS within 1 s"):
        read(fake_sens, lambda m: m.by_request("req-1"))


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (NOW - timedelta(days=30, seconds=1), NOW, "longer than the 30 days SENS lists at once"),
        (NOW - timedelta(days=91), NOW - timedelta(days=80), "reaches past the 90 days SENS keeps"),
        (NOW, NOW - timedelta(minutes=1), "ends .* before it starts"),
        (NOW.replace(tzinfo=None) - timedelta(hours=1), NOW.replace(tzinfo=None), "naive"),
    ],
)
def test_a_window_sens_cannot_answer_whole_is_refused_before_any_request(
    fake_sens: FakeSens, start: datetime, end: datetime, says: str
) -> None:
    with pytest.raises(WindowRefused, match=says):
        read(fake_sens, lambda m: m.in_window(start, end))
    assert fake_sens.state.records.reads == []


def test_the_window_is_written_in_kst_whole_seconds() -> None:
    start = datetime(2030, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert window_query(start, start + timedelta(seconds=0.5), start) == {
        "requestStartTime": "2030-01-01 09:00:00",
        "requestEndTime": "2030-01-01 09:00:00",  # SENS's whole seconds: 09:00:00.7 is listed as this
    }


def test_a_wrong_key_is_refused_and_reported_to_whoever_reads_the_keys(fake_sens: FakeSens) -> None:
    told: list[bool] = []
    with pytest.raises(SentMessagesRefused, match=r"refused the access key or signature .HTTP 401") as caught:
        read(fake_sens, lambda m: m.by_request("req-1"), credentials=WRONG, refused=lambda: told.append(True))
    assert (caught.value.status, told, fake_sens.state.rejected_signatures) == (401, [True], 1)


def test_a_signature_over_the_path_without_its_query_is_refused(fake_sens: FakeSens) -> None:
    """The fake checks the query too: a client that signed only the path would not pass."""
    path = sens_fake.MESSAGES_PATH
    timestamp = "1"
    headers = {
        "x-ncp-apigw-timestamp": timestamp,
        "x-ncp-iam-access-key": sens_fake.ACCESS_KEY,
        "x-ncp-apigw-signature-v2": sens_fake.expected_signature(path, timestamp, "GET"),
    }
    assert fake_sens.state.read(path + "?requestId=x", headers).status == 401
    assert (
        fake_sens.state.read(
            path + "?requestId=x",
            {
                **headers,
                "x-ncp-apigw-signature-v2": (
                    sens_fake.expected_signature(path + "?requestId=x", timestamp, "GET")
                ),
            },
        ).status
        == 200
    )


def test_a_handset_failure_is_read_with_sens_s_code_and_name(fake_sens: FakeSens) -> None:
    fake_sens.state.records.failing_phones.add(PHONE)
    planted = fake_sens.state.records.accept(PHONE, "hi")
    found = read(fake_sens, lambda m: m.message(planted["messageId"]))
    assert found.result is not None
    assert (found.result.delivered, found.result.status_code, found.result.telco_code) == (
        False,
        "3018",
        "SKT",
    )


def test_a_message_still_processing_has_no_handset_result(fake_sens: FakeSens) -> None:
    planted = fake_sens.state.records.accept(PHONE, "hi", status="PROCESSING")
    found = read(fake_sens, lambda m: m.message(planted["messageId"]))
    assert (found.status, found.result) == (Processing.PROCESSING, None)


def test_an_unknown_message_id_is_not_found(fake_sens: FakeSens) -> None:
    with pytest.raises(MessageNotFound, match="SENS knows no message 'nope'"):
        read(fake_sens, lambda m: m.message("nope"))


def test_no_phone_number_reaches_a_log_line_an_error_or_a_repr(
    fake_sens: FakeSens, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    odd = fake_sens.state.records.accept(PHONE, "hi", status="010-1234-5678")  # a phone where none belongs
    with pytest.raises(OddAnswer) as caught:
        read(fake_sens, lambda m: m.message(odd["messageId"]))
    fake_sens.state.records.messages.clear()
    broken = fake_sens.state.records.accept(PHONE, "hi")
    del broken["requestTime"]
    with pytest.raises(OddAnswer, match="field 'requestTime' missing") as missing:
        read(fake_sens, lambda m: m.by_request(broken["requestId"]))
    fake_sens.state.records.messages.clear()
    whole = fake_sens.state.records.accept(PHONE, "hi")
    (found,) = read(fake_sens, lambda m: m.by_request(whole["requestId"]))
    shown = [str(caught.value), str(missing.value), repr(found), caplog.text]
    assert found.masked_to == "010****5678" and "010****5678" in str(caught.value)
    assert not [text for text in shown if "12345678" in text.replace("-", "")]
