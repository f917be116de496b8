"""Log lines a client can provoke at will (refused connections and requests), rate limited per key.

An unauthenticated client can make the server refuse thousands of requests a second; one line
each would flood the log and bury everything else. So at most `per_interval` lines of a key are
written per `interval` seconds (a fixed window opened by the key's first line); the rest are
counted, and the key's next line after the window closes is preceded by one summary line,
"<key>: N more suppressed in the last Xs". A flood that stops leaves its last window's count
unreported until the key is logged again. Metrics are not affected: callers count every event.

`decide` is the pure decision; `LimitedLog` holds one window per key around a logger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

PER_INTERVAL = 20  # lines of one key per window: enough to see what is refused, and from where
INTERVAL = 60.0  # seconds


@dataclass(frozen=True, slots=True)
class Window:
    """One key's current window: opened at `started` (clock seconds), `logged` lines written,
    `suppressed` lines dropped."""

    started: float
    logged: int = 0
    suppressed: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """Write the line or not; `summary`: lines dropped in the window that just closed (0: no
    summary line), over `summary_seconds`; `window`: the key's state from now on."""

    write: bool
    window: Window
    summary: int = 0
    summary_seconds: float = 0.0


def decide(window: Window | None, now: float, *, per_interval: int, interval: float) -> Verdict:
    """Whether a key's next line is written, given its window (None: never logged) (pure)."""
    if window is None or now - window.started >= interval:
        closed = window.suppressed if window is not None else 0
        seconds = now - window.started if window is not None and closed else 0.0
        return Verdict(per_interval > 0, Window(now, logged=min(1, per_interval)), closed, seconds)
    if window.logged < per_interval:
        return Verdict(True, Window(window.started, window.logged + 1, window.suppressed))
    return Verdict(False, Window(window.started, window.logged, window.suppressed + 1))


class LimitedLog:
    """A logger whose lines are rate limited per key (see the module docstring). Keys come from a
    fixed set (a message kind, an error class), never from the client: one window is kept per key.
    Thread-safe."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        per_interval: int = PER_INTERVAL,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._per_interval = per_interval
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, Window] = {}

    def log(self, level: int, key: str, msg: str, *args: object) -> None:
        """Log `msg % args` at `level` unless `key` is over its budget."""
        with self._lock:
            verdict = decide(
                self._windows.get(key),
                self._clock(),
                per_interval=self._per_interval,
                interval=self._interval,
            )
            self._windows[key] = verdict.window
        if verdict.summary:
            self._logger.log(
                level,
                "%s: %d more suppressed in the last %.0fs",
                key,
                verdict.summary,
                verdict.summary_seconds,
            )
        if verdict.write:
            self._logger.log(level, msg, *args)
