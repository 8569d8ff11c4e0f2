"""SENS's list and get answers read whole or refused: the checks that keep a short or odd page from
passing for "never sent" (the HTTP side is tests/integration/test_sens_messages.py)."""

from __future__ import annotations

from typing import Any

import pytest

from naver_sms.adapters.sens_records import read_page, sent_message
from naver_sms.application.errors import OddAnswer
from naver_sms.application.ports import Processing


def item(n: int, **changes: Any) -> dict[str, Any]:
    base = {
        "requestId": "req",
        "messageId": f"m{n}",
        "requestTime": "2026-12-04 10:00:00",
        "to": "01012345678",
        "content": "hi",
        "status": "COMPLETED",
        "statusCode": "0",
        "statusName": "success",
    }
    return {key: value for key, value in (base | changes).items() if value is not None}


@pytest.mark.parametrize("messages", [[], [item(0)], [item(0), item(1)]], ids=["empty", "short", "full"])
def test_a_page_that_does_not_say_whether_more_follow_ends_nothing(messages: list[dict[str, Any]]) -> None:
    """The paging section of SENS's doc page could not be read (sens_messages.py): a short page is no proof
    of the last one, so only an explicit hasMore concludes the list."""
    with pytest.raises(OddAnswer, match="no 'hasMore'"):
        read_page({"messages": messages}, 0, 2)


def test_has_more_is_believed_when_the_page_is_full() -> None:
    assert read_page({"messages": [item(0), item(1)], "hasMore": False}, 0, 2)[1] is False
    assert read_page({"messages": [item(0), item(1)], "hasMore": True}, 0, 2)[1] is True
    assert read_page({"messages": [item(0)], "hasMore": False}, 3, 2)[1] is False


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({"messages": [item(0)], "hasMore": True}, "cut short"),
        ({"messages": [item(0)], "pageIndex": 1, "hasMore": False}, "the answer is page '1'"),
        ({"messages": [item(0), item(1), item(2)], "hasMore": False}, "3 messages on a page of 2"),
        ({"messages": [item(0)], "hasMore": "no"}, "field 'hasMore' missing or not bool"),
        ({"statusCode": "202"}, "no 'messages' list"),
        ({"messages": [item(0, requestId=None)], "hasMore": False}, "field 'requestId' missing"),
        (
            {"messages": [item(0, requestTime="yesterday")], "hasMore": False},
            "'requestTime' is not a KST time",
        ),
        (
            {"messages": [item(0, requestTime="2026-12-04")], "hasMore": False},
            "'requestTime' is not a KST time",
        ),
        ({"messages": [item(0, statusName="maybe")], "hasMore": False}, "neither success nor fail"),
        ({"messages": [item(0, statusCode=None)], "hasMore": False}, "field 'statusCode' missing"),
        ({"messages": [item(0, to=True)], "hasMore": False}, "field 'to' missing or not str"),
        ({"messages": ["a string"], "hasMore": False}, "not a JSON object"),
    ],
)
def test_an_odd_page_is_refused_naming_what_is_wrong(answer: dict[str, Any], says: str) -> None:
    with pytest.raises(OddAnswer, match=says) as caught:
        read_page(answer, 0, 2)
    assert "01012345678" not in str(caught.value)


def test_the_handset_result_is_read_only_once_completed() -> None:
    waiting = sent_message(item(0, status="READY", statusCode=None, statusName=None), "here")
    assert (waiting.status, waiting.result) == (Processing.READY, None)
    listed = sent_message(item(0, status=None, content=None), "here")  # a list that says neither
    assert (listed.status, listed.result, listed.content) == (None, None, None)
