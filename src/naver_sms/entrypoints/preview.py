"""`make preview`: what the next scheduled run would send, as a table; nothing is claimed or sent.

Bookings come from the real booking API with the configured login (through the login guard, like any
run), or from a JSON file (`--bookings FILE`: a list of booking records, or one booking API page,
`{"bookings": [...]}`), which needs no Naver, AWS or SENS credentials. Phone numbers are masked; the
texts are shown as a customer would receive them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import sys
import time
import unicodedata
from collections import Counter
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from naver_sms.application.errors import described
from naver_sms.application.preview import NEW, Preview, preview
from naver_sms.domain.booking import booking_from_mapping
from naver_sms.domain.errors import DomainError
from naver_sms.domain.phone import mask_phone, mask_phones_in
from naver_sms.settings import Settings, SettingsError

MAX_FILE_BYTES = 50 * 1024 * 1024
PREVIEWER = "preview"  # the owner a claim would name; a preview writes none


class BadBookingsFile(ValueError):
    pass


def read_bookings(path: Path) -> list[object]:
    try:
        # Non-blocking, so a FIFO or a device is refused at once instead of waiting for a writer.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise BadBookingsFile(f"{path}: not a regular file")
            raw = file.read(MAX_FILE_BYTES + 1)  # what the file holds when read, not what stat said
        if len(raw) > MAX_FILE_BYTES:
            raise BadBookingsFile(f"{path}: over {MAX_FILE_BYTES} bytes, the most a bookings file may hold")
        data = json.loads(raw.decode("utf-8"))
    except OSError as err:
        raise BadBookingsFile(f"{path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise BadBookingsFile(f"{path}: not UTF-8 (byte {err.start})") from None
    except (ValueError, RecursionError) as err:
        raise BadBookingsFile(f"{path}: not JSON: {str(err)[:200]}") from None
    if isinstance(data, dict) and isinstance(data.get("bookings"), list):
        return list(data["bookings"])
    if isinstance(data, list):
        return data
    raise BadBookingsFile(
        f"{path}: expected a list of booking records or a booking API page "
        f'({{"bookings": [...]}}), got {type(data).__name__}'
    )


async def _records_from_api(settings: Settings) -> list[object]:
    from naver_sms.bootstrap.lambda_image import scheduled_run  # noqa: PLC0415  (selenium, requests)

    run = scheduled_run(settings, requested_dry_run=True, request_id=PREVIEWER)
    records, _ = await run.records()
    return records


async def _preview(settings: Settings, bookings: Path | None, now: datetime) -> tuple[Preview, list[object]]:
    from naver_sms.bootstrap.lambda_image import notifier, owner, seen_bookings  # noqa: PLC0415

    records = read_bookings(bookings) if bookings else await _records_from_api(settings)
    planner = notifier(settings, dry_run=True, claimer=owner(PREVIEWER))
    planned = await preview(
        planner,
        records,
        now,
        max_sends=settings.sms.max_per_run,
        wall_clock=time.time(),
        seen=seen_bookings(settings),
    )
    return planned, records


def _feed_line(result: Preview, publishing: bool) -> str:
    if result.feed_error:
        return f"the change feed's store could not be read ({result.feed_error[:300]}): no events derived"
    if result.feed is None:
        return ""
    if result.feed.baseline:
        return "the change feed has no baseline yet: that run records one and derives no booking events"
    kinds = Counter(e.type.value for e in result.feed.events)
    counted = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) or "none"
    where = "published to the worker, which sends their messages" if publishing else "sent by that run"
    return f"booking events: {len(result.feed.events)} ({counted}), {where}"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cell(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(rows: list[list[str]]) -> str:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(_cell(c, w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(result: Preview, starts: dict[str, str], now: datetime, max_sends: int, publishing: bool) -> str:
    header = ["rule", "booking", "phone", "start", "status", "text"]
    rows = [
        [
            row.message.rule,
            row.message.booking_id,
            mask_phone(row.message.phone),
            starts.get(row.message.booking_id, ""),
            row.status,
            row.message.text.replace("\n", "⏎"),
        ]
        for row in result.rows
    ]
    out = [f"as of {now:%Y-%m-%d %H:%M %Z}: the next scheduled run would plan {len(rows)} message(s)"]
    if rows:
        out.append(table([header, *rows]))
    for failure in result.invalid:
        reason = mask_phones_in(failure.reason)
        out.append(f"invalid: {failure.rule or '-'} booking {failure.booking_id}: {reason}")
    if result.sent_log_error:
        out.append(
            f"the sent log could not be read ({result.sent_log_error[:300]}): every planned message is "
            "shown as new, which is what a run against an empty sent log would send"
        )
    if feed := _feed_line(result, publishing):
        out.append(feed)
    new = len(result.new)
    out.append(f"{new} new (status {NEW}) would be sent; sms.max_per_run is {max_sends}")
    if result.held:
        out.append(f"the volume breaker would hold that run: {result.held.explain()}")
    return "\n".join(out)


def _starts(records: list[object], zone: tzinfo) -> dict[str, str]:
    starts: dict[str, str] = {}
    for record in records:
        try:
            booking = booking_from_mapping(record)
            starts[booking.booking_id] = f"{booking.start.astimezone(zone):%m/%d %H:%M}"
        except (DomainError, OverflowError):  # a start near year 1 or 9999 has no local time to show
            continue
    return starts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make preview", description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=Path, help="a JSON file of bookings instead of the booking API")
    args = parser.parse_args(argv)
    try:
        settings = Settings.load()
        from naver_sms.settings.rules import load_rules  # noqa: PLC0415

        now = datetime.now(load_rules(settings.rules_path).timezone)
        result, records = asyncio.run(_preview(settings, args.bookings, now))
    except (SettingsError, BadBookingsFile, DomainError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001  (an operator command: say what failed, no traceback)
        print(f"error: {described(err)}", file=sys.stderr)
        return 1
    publishing = bool(settings.events.nats_url)
    print(render(result, _starts(records, now.tzinfo or UTC), now, settings.sms.max_per_run, publishing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
