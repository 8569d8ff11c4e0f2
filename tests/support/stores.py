"""The sent-log contract's handle on a store: a fresh client of one backing store (the fake, DynamoDB,
JetStream KV) each time it is opened, as each process has its own (tests/integration/conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from naver_sms.adapters.sent_log import RecordStore

Stores = Callable[[], contextlib.AbstractAsyncContextManager[RecordStore]]
