"""The run's deadline: a Lambda is killed at its timeout, with no result, no alert and no metric, and a
claim cut mid-connect is later reported unknown although nothing left. So a run stops claiming new
messages while one more worst-case send (and the result, metrics and alert after it) still fits."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    time_left: Callable[[], float]  # seconds until the run is killed
    reserve_seconds: float  # one worst-case send plus a margin for what the run does after it

    def allows_a_send(self) -> bool:
        return self.time_left() >= self.reserve_seconds


NO_DEADLINE = Deadline(lambda: math.inf, 0.0)  # a run nobody times out (tests, `make preview`)
