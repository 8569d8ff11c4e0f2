"""The worker's budget for lines that come as fast as events arrive: a burst writes a bounded number of
lines, and every line left out is counted in a report."""

from __future__ import annotations

import logging

import pytest

from naver_sms.logging_setup import LineBudget

LOGGER = "naver_sms.test.budget"
REPORT = "decisions not logged one by one"


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def reports(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == REPORT]


def test_the_first_lines_of_each_second_are_logged_and_the_rest_counted_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = Clock(100.0)
    budget = LineBudget(logging.getLogger(LOGGER), REPORT, 3, clock)
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]
    clock.at = 100.99
    assert budget.take() is False
    clock.at = 101.0
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    budget.report()
    budget.report()  # nothing left out since the first report: no second line
    (report,) = reports(caplog)
    assert (report.levelno, report.not_logged, report.logged_per_second) == (logging.INFO, 4, 3)  # type: ignore[attr-defined]


def test_a_quiet_stream_is_logged_line_by_line_with_no_report(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    clock = Clock(0.0)
    budget = LineBudget(logging.getLogger(LOGGER), REPORT, 2, clock)
    for second in range(50):
        clock.at = float(second)
        assert budget.take() and budget.take()
    budget.report()
    assert reports(caplog) == []


def test_at_debug_every_line_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    budget = LineBudget(logging.getLogger(LOGGER), REPORT, 1, Clock(7.0))
    assert all(budget.take() for _ in range(1000))
    budget.report()
    assert reports(caplog) == []
