"""When to try an S3 request again, and how long to wait first: pure decisions, plus the one
shared piece of state (`ThrottleGate`: "the server asked this bucket to wait until T").

obstore (Rust `object_store` 0.14) retries on its own schedule and never reads `Retry-After`;
its errors carry the status and body, not the headers. So single requests go through a store
whose own retries are off and are retried here, and the server's wait, when there is one, is
learned by a bodiless probe (see `s3_buckets`) and obeyed by every thread using the bucket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.errors import GliderError, StorageUnavailable, Throttled

THROTTLE_BASE = 1.0  # first backoff ceiling after a throttled answer (then doubling)
FAULT_BASE = 0.1  # first backoff ceiling after a 5xx, reset or timeout
SERVER_JITTER = 0.2  # a server-given wait is stretched by up to this fraction (no lockstep return)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` per request (first one included); `max_wait`: the longest single pause,
    a server asking for more is not waited for; `budget`: seconds from the first attempt after
    which no further attempt starts."""

    attempts: int = 3
    max_wait: float = 20.0
    budget: float = 60.0


def retryable(err: GliderError, *, creating: bool) -> bool:
    """Worth another attempt: throttled (the server did nothing), or a failing/unreachable/slow
    server, unless the request was a create (If-None-Match: *), where a lost answer to a write
    that happened would come back as a false AlreadyExists."""
    if isinstance(err, Throttled):
        return True
    return isinstance(err, StorageUnavailable) and not creating


def next_wait(
    attempt: int,
    err: GliderError,
    server_wait: float | None,
    policy: RetryPolicy,
    *,
    remaining: float,
    rand: float,
) -> float | None:
    """Seconds to pause after failed attempt number `attempt` (1-based), or None to give up.

    `server_wait` is the server's Retry-After when known: waited in full (plus up to
    SERVER_JITTER of it), or given up on at once when longer than `policy.max_wait` or the time
    left (`remaining`). Otherwise full jitter: uniform in [0, min(max_wait, base * 2**(attempt-1))]
    with `rand` in [0, 1)."""
    if attempt >= policy.attempts:
        return None
    if server_wait is not None:
        if server_wait > policy.max_wait or server_wait > remaining:
            return None
        return min(remaining, server_wait * (1 + SERVER_JITTER * rand))
    base = THROTTLE_BASE if isinstance(err, Throttled) else FAULT_BASE
    pause = rand * min(policy.max_wait, base * 2 ** (attempt - 1))
    return pause if pause <= remaining else None


def parse_retry_after(value: str | None) -> float | None:
    """Delta-seconds of a Retry-After header (the HTTP-date form is not used by S3 servers)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class ThrottleGate:
    """Per bucket, the monotonic time before which the server asked not to be called. Shared by
    every thread of one store, so 32 HEAD workers pause together instead of each retrying on its
    own. `clock` gives monotonic seconds (injected by tests to step time instead of sleeping).
    Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hold(self, bucket: str, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            self._until[bucket] = max(until, self._until.get(bucket, 0.0))

    def remaining(self, bucket: str) -> float:
        """Seconds still to wait before calling `bucket` (0 when free)."""
        with self._lock:
            return max(0.0, self._until.get(bucket, 0.0) - self._clock())
