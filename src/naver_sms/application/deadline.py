"""The run's deadline: a Lambda is killed at its timeout, with no result, no alert and no metric, and a
claim cut mid-connect is later reported unknown although nothing left. So a run stops claiming new
messages while one more worst-case send (and the result, metrics and alert after it) still fits."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from naver_sms.application.errors import DeadlineTooShort


@dataclass(frozen=True)
class Deadline:
    time_left: Callable[[], float]  # seconds until the run is killed
    reserve_seconds: float  # one worst-case send plus a margin for what the run does after it

    def allows_a_send(self) -> bool:
        return self.time_left() >= self.reserve_seconds

    def check_at_start(self) -> None:
        """A run that could not make even one send before it is killed is a configuration error, said
        at once, rather than a run that defers every message forever."""
        left = self.time_left()
        if not left >= self.reserve_seconds:  # NaN too: a context whose time cannot be read
            raise DeadlineTooShort(
                f"the run has {left:.0f} s, less than one worst-case SMS send plus the margin after it "
                f"({self.reserve_seconds:.0f} s): raise the function's timeout, or lower "
                "SENS_TIMEOUT_SECONDS x SENS_MAX_ATTEMPTS"
            )


NO_DEADLINE = Deadline(lambda: math.inf, 0.0)  # a run nobody times out (tests, `make preview`)
