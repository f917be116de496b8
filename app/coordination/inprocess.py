"""The in-process backend: the same contract as Redis, for one process (the default, and the
fallback when Redis is down). State lives in dicts behind one lock; a Condition wakes watchers."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from app.coordination.base import (
    MAX_RUNNING,
    RUN_WINDOW_LEASES,
    BackendStatus,
    CacheKey,
    CoordinationBackend,
    Entry,
    Lease,
    LeaseState,
    Snapshot,
    Watch,
    job_lease_seconds,
)


@dataclass(slots=True)
class _Backoff:
    failures: int
    until: float  # monotonic
    forget_at: float  # monotonic: the failure count resets after this


class InProcessBackend(CoordinationBackend):
    """Thread-safe; nothing is shared with other processes.

    `clock` (Unix seconds) stamps fences and drops entries past their hard expiry;
    `monotonic` times leases and back-offs. Both are injectable for tests.
    """

    origin = "inprocess"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._entries: dict[CacheKey, Entry] = {}
        self._invalidated: dict[str, int] = {}
        self._leases: dict[CacheKey, tuple[str, float]] = {}
        self._running: dict[CacheKey, dict[str, float]] = {}  # token -> end of its running window
        self._backoffs: dict[CacheKey, _Backoff] = {}
        self._jobs: dict[str, float] = {}
        self._versions: dict[CacheKey, int] = {}
        self._last_stamp = 0

    # -- helpers (call with the lock held) --------------------------------------------------------

    def _stamp(self) -> int:
        # Wall-clock microseconds, forced strictly increasing so equal or stepped-back clocks
        # still order leases after earlier invalidations.
        self._last_stamp = max(int(self._clock() * 1_000_000), self._last_stamp + 1)
        return self._last_stamp

    def _holder(self, key: CacheKey) -> str | None:
        held = self._leases.get(key)
        if held is None:
            return None
        if held[1] <= self._monotonic():
            del self._leases[key]
            return None
        return held[0]

    def _runners(self, key: CacheKey) -> dict[str, float]:
        now = self._monotonic()
        runners = self._running.setdefault(key, {})
        for token in [t for t, until in runners.items() if until <= now]:
            del runners[token]
        return runners

    def _bump(self, key: CacheKey) -> None:
        self._versions[key] = self._versions.get(key, 0) + 1
        self._changed.notify_all()

    # -- contract ---------------------------------------------------------------------------------

    def read(self, key: CacheKey) -> Snapshot:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.stale_until <= self._clock():
                del self._entries[key]
                entry = None
            backoff = self._backoffs.get(key)
            remaining = 0.0 if backoff is None else max(0.0, backoff.until - self._monotonic())
            return Snapshot(entry, self._invalidated.get(key.group, 0), remaining)

    def try_lease(self, key: CacheKey, ttl_seconds: float) -> Lease | None:
        with self._lock:
            runners = self._runners(key)
            if self._holder(key) is not None or len(runners) >= MAX_RUNNING:
                return None
            token = secrets.token_hex(16)
            now = self._monotonic()
            self._leases[key] = (token, now + ttl_seconds)
            runners[token] = now + RUN_WINDOW_LEASES * ttl_seconds
            return Lease(key, token, self._stamp(), self.origin)

    def extend(self, lease: Lease, ttl_seconds: float) -> LeaseState:
        with self._lock:
            holder = self._holder(lease.key)
            if holder is not None and holder != lease.token:
                return LeaseState.LOST
            now = self._monotonic()
            self._leases[lease.key] = (lease.token, now + ttl_seconds)
            self._runners(lease.key)[lease.token] = now + RUN_WINDOW_LEASES * ttl_seconds
            return LeaseState.HELD if holder == lease.token else LeaseState.REGAINED

    def store(self, lease: Lease, entry: Entry) -> bool:
        if entry.fence > lease.fence:
            raise ValueError("an entry's fence cannot be later than its lease's")
        with self._lock:
            holder = self._holder(lease.key)
            if holder is not None and holder != lease.token:
                return False
            current = self._entries.get(lease.key)
            if current is not None and current.fence > entry.fence:
                return False
            self._entries[lease.key] = entry
            self._backoffs.pop(lease.key, None)
            self._bump(lease.key)
            return True

    def release(self, lease: Lease) -> None:
        with self._lock:
            self._runners(lease.key).pop(lease.token, None)
            if self._holder(lease.key) == lease.token:
                del self._leases[lease.key]
            self._bump(lease.key)

    def record_failure(self, key: CacheKey, base_seconds: float, cap_seconds: float) -> float:
        with self._lock:
            now = self._monotonic()
            previous = self._backoffs.get(key)
            failures = 1 if previous is None or previous.forget_at <= now else previous.failures + 1
            delay = min(base_seconds * 2.0 ** (failures - 1), max(cap_seconds, base_seconds))
            # Remember the count a while past the delay, so the next failure doubles it.
            self._backoffs[key] = _Backoff(failures, now + delay, now + 2 * delay + base_seconds)
            return delay

    def invalidate(self, group: str) -> int:
        with self._lock:
            stamp = self._stamp()
            self._invalidated[group] = stamp
            return stamp

    def watch(self, key: CacheKey) -> AbstractContextManager[Watch]:
        return self._watching(key)

    @contextmanager
    def _watching(self, key: CacheKey) -> Iterator[Watch]:
        with self._lock:
            seen = self._versions.get(key, 0)
        yield _ConditionWatch(lambda seen, timeout: self._wait_change(key, seen, timeout), seen)

    def _wait_change(self, key: CacheKey, seen: int, timeout: float) -> int | None:
        with self._lock:
            changed = self._changed.wait_for(lambda: self._versions.get(key, 0) != seen, timeout)
            return self._versions.get(key, 0) if changed else None

    def try_acquire_job(self, name: str, interval_seconds: float) -> bool:
        """True at most once per 90% of `interval_seconds` in this process."""
        with self._lock:
            now = self._monotonic()
            if self._jobs.get(name, 0.0) > now:
                return False
            self._jobs[name] = now + job_lease_seconds(interval_seconds)
            return True

    def status(self) -> BackendStatus:
        return BackendStatus(backend=self.origin, healthy=True)

    def close(self) -> None:
        """Nothing to release."""


class _ConditionWatch(Watch):
    def __init__(self, wait_change: Callable[[int, float], int | None], seen: int) -> None:
        self._wait_change = wait_change
        self._seen = seen

    def wait(self, timeout: float) -> bool:
        version = self._wait_change(self._seen, max(timeout, 0.0))
        if version is None:
            return False
        self._seen = version
        return True
