"""How long a send may try: the SENS client waits by it, and the settings check with it that the
longest send fits the claim lease and the worker's ack wait. One formula for both."""

from __future__ import annotations

from dataclasses import dataclass

from naver_sms.application.errors import NotDelivered

BACKOFF_SECONDS = 0.5  # first wait between attempts that never reached SENS; doubles per attempt
MAX_RETRY_AFTER_SECONDS = 2.0  # a 429 asking for a longer wait is retried by the caller instead


@dataclass(frozen=True)
class SendPolicy:
    timeout: float  # seconds for one attempt in total: connect, write and the whole answer
    max_attempts: int  # for failures known to precede delivery
    backoff: float = BACKOFF_SECONDS
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS  # a longer Retry-After is handed to the caller

    def backoff_after(self, attempt: int) -> float:
        return self.backoff * 2.0 ** (attempt - 1)

    def wait_before(self, attempt: int, err: NotDelivered) -> float:
        """Seconds to wait before trying again after `attempt` failed with `err`; raises when the
        caller should have it instead (no attempts left, or a Retry-After longer than we wait)."""
        wait = self.backoff_after(attempt)
        if err.retry_after is not None:
            if err.retry_after > self.max_retry_after:
                raise err
            wait = max(wait, err.retry_after)
        if attempt >= self.max_attempts:
            raise NotDelivered(
                f"SENS not reached after {attempt} attempts: {err}", retry_after=err.retry_after
            ) from err
        return wait

    def worst_case_seconds(self) -> float:
        """How long one SMS may take with every attempt timing out and waiting its longest in between."""
        waits = (max(self.backoff_after(n), self.max_retry_after) for n in range(1, self.max_attempts))
        return self.max_attempts * self.timeout + sum(waits)
