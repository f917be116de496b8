"""app.observability.limited_log: per-key rate limits on provocable log lines (a stepped clock)."""

from __future__ import annotations

import logging
import threading

import pytest

from app.observability.limited_log import LimitedLog, Verdict, Window, decide


def step(window: Window | None, now: float) -> Verdict:
    return decide(window, now, per_interval=3, interval=60.0)


def test_a_key_writes_its_budget_then_counts_the_rest() -> None:
    window, written = None, []
    for _ in range(10):
        verdict = step(window, 5.0)
        window = verdict.window
        written.append(verdict.write)
        assert verdict.summary == 0
    assert written == [True] * 3 + [False] * 7
    assert window == Window(5.0, logged=3, suppressed=7)


def test_the_next_window_opens_with_a_summary_of_the_last() -> None:
    full = Window(5.0, logged=3, suppressed=7)
    assert step(full, 64.9).write is False
    verdict = step(full, 70.0)
    assert (verdict.write, verdict.summary, verdict.summary_seconds) == (True, 7, 65.0)
    assert verdict.window == Window(70.0, logged=1)


def test_a_quiet_window_closes_without_a_summary() -> None:
    verdict = step(Window(0.0, logged=2), 61.0)
    assert (verdict.write, verdict.summary) == (True, 0)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.limited"]


def test_limited_log_writes_bounded_lines_per_key_and_a_summary(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    limited = LimitedLog(
        logging.getLogger("test.limited"), per_interval=2, interval=10.0, clock=lambda: now[0]
    )
    with caplog.at_level(logging.INFO, logger="test.limited"):
        for n in range(50):
            limited.log(logging.INFO, "refused a request", "refused a request: %d", n)
        limited.log(logging.WARNING, "refused a connection", "refused a connection: %d open", 9)
        now[0] += 12.5
        limited.log(logging.INFO, "refused a request", "refused a request: %d", 50)
    assert _lines(caplog) == [
        "refused a request: 0",
        "refused a request: 1",
        "refused a connection: 9 open",  # another key has its own budget
        "refused a request: 48 more suppressed in the last 12s",
        "refused a request: 50",
    ]


def test_limited_log_keeps_its_budget_under_threads(caplog: pytest.LogCaptureFixture) -> None:
    limited = LimitedLog(logging.getLogger("test.limited"), per_interval=5, interval=3600.0)
    with caplog.at_level(logging.INFO, logger="test.limited"):
        threads = [
            threading.Thread(target=lambda: [limited.log(logging.INFO, "k", "line") for _ in range(200)])
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert _lines(caplog) == ["line"] * 5
