"""The fake SENS's read side: what it accepted, listed (`GET …/messages`, paged) and read one by one
(`GET …/messages/{messageId}`) as SENS v2 answers, and misbehaving on request.

Paging as the adapter asks it (pageIndex from 0, pageSize; the answer's pageIndex, pageSize, itemCount,
hasMore): see the note on paging in src/naver_sms/adapters/sens_messages.py.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

KST = timezone(timedelta(hours=9), "KST")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_PAGE_SIZE = 100
LONGEST_WINDOW = timedelta(days=30)


class Fault:
    """What the read side can be told to do instead of answering honestly."""

    NONE = ""
    SERVER_ERROR = "5xx"  # 503 to every read
    CUT_SHORT = "cut-short"  # a page says more follow but holds one message fewer than it should
    NOT_SENS = "not-sens"  # 200 with JSON that is not SENS's (a captive portal, a wrong endpoint)
    NOT_JSON = "not-json"  # 200 with an HTML page


@dataclass
class SensRecords:
    """Every message SENS accepted, as its read endpoints show it."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    failing_phones: set[str] = field(default_factory=set)  # their handset result is "fail"
    lag: timedelta = timedelta(0)  # accepted this recently: not listed yet (SENS's list lags its sends)
    fault: str = Fault.NONE
    delay_seconds: float = 0.0  # how long each read hangs before it is answered (the threaded fake's)
    reads: list[str] = field(default_factory=list)  # every read's path and query, as received
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(
        self,
        to: str,
        content: str,
        *,
        request_id: str | None = None,
        at: datetime | None = None,
        status: str = "COMPLETED",
    ) -> dict[str, Any]:
        """Record one accepted message (a send does; a test may plant one at any time)."""
        failed = to in self.failing_phones
        message = {
            "requestId": request_id or uuid.uuid4().hex,
            "messageId": str(uuid.uuid4()),
            "requestTime": (at or datetime.now(KST)).astimezone(KST).strftime(TIME_FORMAT),
            "contentType": "COMM",
            "type": "SMS",
            "countryCode": "82",
            "from": "0212345678",
            "to": to,
            "content": content,
            "status": status,
        }
        if status == "COMPLETED":
            message |= {
                "completeTime": message["requestTime"],
                "statusCode": "3018" if failed else "0",
                "statusName": "fail" if failed else "success",
                "statusMessage": "unreachable" if failed else "success",
                "telcoCode": "SKT",
            }
        with self.lock:
            self.messages.append(message)
        return message

    def read(self, path: str) -> tuple[int, dict[str, Any] | bytes]:
        """The answer to a signed GET of `path` (with its query), under the messages path."""
        self.reads.append(path)
        time.sleep(self.delay_seconds)
        if self.fault == Fault.SERVER_ERROR:
            return 503, {"error": "injected"}
        if self.fault == Fault.NOT_SENS:
            return 200, {"hello": "a proxy's login page"}
        if self.fault == Fault.NOT_JSON:
            return 200, b"<html>not SENS</html>"
        route, _, query = path.partition("?")
        tail = route.rsplit("/messages", 1)[1]
        if tail:
            return self._one(urllib.parse.unquote(tail.removeprefix("/")))
        return self._page(urllib.parse.parse_qs(query))

    def _listed(self) -> list[dict[str, Any]]:
        settled = (datetime.now(KST) - self.lag).strftime(TIME_FORMAT)
        with self.lock:
            return [
                m for m in self.messages if self.lag <= timedelta(0) or m.get("requestTime", "") < settled
            ]

    def _one(self, message_id: str) -> tuple[int, dict[str, Any]]:
        found = [m for m in self._listed() if m["messageId"] == message_id]
        if not found:
            return 404, {"error": {"errorCode": "404", "message": "Not Found"}}
        return 200, {"statusCode": "202", "statusName": "success", "messages": found}

    def _page(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        one = {key: values[0] for key, values in query.items()}
        if "requestId" in one:
            matches = [m for m in self._listed() if m["requestId"] == one["requestId"]]
        elif "requestStartTime" in one and "requestEndTime" in one:
            start, end = one["requestStartTime"], one["requestEndTime"]
            span = datetime.strptime(end, TIME_FORMAT) - datetime.strptime(start, TIME_FORMAT)
            if span > LONGEST_WINDOW or span < timedelta(0):
                return 400, {"error": {"errorCode": "400", "message": "window over 30 days"}}
            matches = [m for m in self._listed() if start <= m.get("requestTime", "") <= end]
        else:
            return 400, {"error": {"errorCode": "400", "message": "requestId or a window is required"}}
        index, size = int(one.get("pageIndex", 0)), int(one.get("pageSize", DEFAULT_PAGE_SIZE))
        matches.sort(key=lambda m: (m.get("requestTime", ""), m["messageId"]))
        page = matches[index * size : (index + 1) * size]
        more = len(matches) > (index + 1) * size
        if self.fault == Fault.CUT_SHORT and more:
            page = page[:-1]
        return 200, {
            "statusCode": "202",
            "statusName": "success",
            "pageIndex": index,
            "pageSize": size,
            "itemCount": len(page),
            "hasMore": more,
            "messages": page,
        }
