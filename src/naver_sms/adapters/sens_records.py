"""SENS's answers about sent messages (API v2 `GET …/messages` and `GET …/messages/{messageId}`), read
into the application's SentMessage, and the request-time windows SENS accepts.

Every field this code relies on is checked; one missing or of the wrong type makes the whole answer an
OddAnswer naming the field (never its value: a value may be a phone number). Times are SENS's local time,
KST (UTC+9, no daylight saving), written `YYYY-MM-DD HH:mm:ss`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from naver_sms.application.errors import OddAnswer, WindowRefused
from naver_sms.application.ports import HandsetResult, Processing, SentMessage
from naver_sms.domain.phone import mask_phones_in

KST = timezone(timedelta(hours=9), "KST")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
LONGEST_WINDOW = timedelta(days=30)  # requestStartTime to requestEndTime, as SENS allows at most
KEPT = timedelta(days=90)  # how far back SENS lists requests
HANDSET_NAMES = {"success": True, "fail": False}


def kst(moment: datetime) -> str:
    return moment.astimezone(KST).strftime(TIME_FORMAT)


def window_query(start: datetime, end: datetime, now: datetime) -> dict[str, str]:
    """The list's query for requests received from `start` to `end`, in whole seconds (SENS's
    precision), or WindowRefused when SENS could not answer it whole."""
    if start.tzinfo is None or end.tzinfo is None:
        raise WindowRefused("a request-time window needs aware datetimes (SENS reads KST); got a naive one")
    # SENS records whole seconds; a request at 09:00:00.7 is listed as 09:00:00, so `end` cut to its
    # second still holds it.
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    if end < start:
        raise WindowRefused(
            f"a request-time window ends ({kst(end)} KST) before it starts ({kst(start)} KST)"
        )
    if end - start > LONGEST_WINDOW:
        raise WindowRefused(
            f"a request-time window of {end - start} is longer than the {LONGEST_WINDOW.days} days SENS "
            f"lists at once ({kst(start)} to {kst(end)} KST): split it"
        )
    if start < now - KEPT:
        raise WindowRefused(
            f"a request-time window starting {kst(start)} KST reaches past the {KEPT.days} days SENS keeps: "
            "what it held there is gone, so its list would be partial"
        )
    return {"requestStartTime": kst(start), "requestEndTime": kst(end)}


def _field(item: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = item.get(key)
    # A JSON true is a Python int: where a number belongs it is as wrong as a missing one.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise OddAnswer(f"{where}: field {key!r} missing or not {kind.__name__}")
    return value


def _text(item: dict[str, Any], key: str, where: str) -> str:
    value: str = _field(item, key, str, where)
    if not value.strip():
        raise OddAnswer(f"{where}: field {key!r} is empty")
    return value


def _time(item: dict[str, Any], key: str, where: str) -> datetime:
    value = _text(item, key, where)
    try:  # SENS writes seconds; fractions, when a page adds them, are kept
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is not None or len(value) < len("YYYY-MM-DD HH:mm:ss"):
        raise OddAnswer(f"{where}: field {key!r} is not a KST time written YYYY-MM-DD HH:mm:ss")
    return parsed.replace(tzinfo=KST)


def _status(item: dict[str, Any], where: str) -> Processing | None:
    if "status" not in item:
        return None
    value = _field(item, "status", str, where)
    try:
        return Processing(value)
    except ValueError:
        raise OddAnswer(
            f"{where}: status {mask_phones_in(value)[:40]!r} is none of "
            f"{', '.join(status.value for status in Processing)}"
        ) from None


def _result(item: dict[str, Any], where: str) -> HandsetResult:
    name = _text(item, "statusName", where)
    if name not in HANDSET_NAMES:
        raise OddAnswer(f"{where}: statusName {mask_phones_in(name)[:40]!r} is neither success nor fail")
    return HandsetResult(
        status_code=_text(item, "statusCode", where),
        delivered=HANDSET_NAMES[name],
        status_message=str(item.get("statusMessage") or ""),
        telco_code=str(item.get("telcoCode") or ""),
    )


def sent_message(item: object, where: str) -> SentMessage:
    """One message of a list or get answer. Its handset result is read once SENS says COMPLETED."""
    if not isinstance(item, dict):
        raise OddAnswer(f"{where}: a message that is not a JSON object")
    status = _status(item, where)
    content = item.get("content")
    if content is not None and not isinstance(content, str):
        raise OddAnswer(f"{where}: field 'content' is not str")
    return SentMessage(
        request_id=_text(item, "requestId", where),
        message_id=_text(item, "messageId", where),
        request_time=_time(item, "requestTime", where),
        to=_text(item, "to", where),
        content=content,
        status=status,
        result=_result(item, where) if status is Processing.COMPLETED else None,
    )


def messages_of(answer: dict[str, Any], where: str) -> list[SentMessage]:
    items = answer.get("messages")
    if not isinstance(items, list):
        raise OddAnswer(f"{where}: no 'messages' list: not SENS's answer")
    return [sent_message(item, f"{where}, message {n}") for n, item in enumerate(items)]


def read_page(answer: dict[str, Any], index: int, size: int) -> tuple[list[SentMessage], bool]:
    """One page of the list asked for at `index`, `size` a page: its messages and whether another page
    follows. A list read short would pass for "never sent", so the end of the list is concluded only
    from the one explicit signal this reader knows, the answer's `hasMore` (a JSON boolean) being false;
    a page without it is refused, whatever its length: a short page is no proof of the last one
    (`pageSize` may be capped below what was asked). And a page said to have more must be full, and one
    that echoes another index is refused. See sens_messages.py on what SENS's doc page was found to say."""
    where = f"SENS's message list, page {index}"
    echoed = answer.get("pageIndex", index)
    if echoed != index or isinstance(echoed, bool):
        raise OddAnswer(f"{where}: the answer is page {mask_phones_in(str(echoed))[:20]!r}")
    messages = messages_of(answer, where)
    if len(messages) > size:
        raise OddAnswer(f"{where}: {len(messages)} messages on a page of {size}")
    if "hasMore" not in answer:
        raise OddAnswer(
            f"{where}: no 'hasMore': the answer does not say whether more pages follow, so the list "
            "cannot be concluded whole"
        )
    more: bool = _field(answer, "hasMore", bool, where)
    if more and len(messages) < size:
        raise OddAnswer(f"{where}: cut short ({len(messages)} of {size} messages, and more said to follow)")
    return messages, more
