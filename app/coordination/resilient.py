"""Redis in front, the in-process backend behind: Redis trouble degrades coordination, never requests.

While Redis fails, every operation goes to the in-process backend (per-replica single-flight,
per-replica invalidation), `status()` reports the degradation, `dg_coordination_up` is 0 and
`dg_coordination_degraded_total{reason}` counts each fall. Redis is probed again at most every
`probe_seconds` (by the next operation, or by `status()` from /readyz); on recovery the
invalidations made meanwhile are replayed to Redis BEFORE it serves again, so no replica answers
from an entry that missed an upload made during the outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TypeVar

from app.coordination.base import (
    BackendStatus,
    CacheKey,
    CoordinationBackend,
    Entry,
    Lease,
    LeaseState,
    Snapshot,
    Watch,
)
from app.coordination.inprocess import InProcessBackend
from app.errors import CoordinationUnavailable
from app.observability.metrics import Metrics

log = logging.getLogger(__name__)

T = TypeVar("T")


class ResilientBackend(CoordinationBackend):
    """Thread-safe. Leases are routed back to the backend that issued them (`Lease.origin`)."""

    def __init__(
        self,
        primary: CoordinationBackend,
        fallback: CoordinationBackend | None = None,
        *,
        metrics: Metrics | None = None,
        probe_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._fallback = fallback if fallback is not None else InProcessBackend()
        self.origin = primary.origin
        self._metrics = metrics
        self._probe_seconds = probe_seconds
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._reason: str | None = None
        self._since: float | None = None
        self._next_probe = 0.0
        self._pending_invalidations: set[str] = set()
        if metrics is not None:
            metrics.coordination_up.set(1)

    # -- health -----------------------------------------------------------------------------------

    def _use_primary(self) -> bool:
        with self._lock:
            if self._reason is None:
                return True
            if self._monotonic() < self._next_probe:
                return False
            self._next_probe = self._monotonic() + self._probe_seconds
        # Probe outside the lock (it may wait for a socket timeout); others keep the fallback.
        if not self._primary.status().healthy:
            return False
        return self._recover()

    def _degrade(self, exc: CoordinationUnavailable) -> None:
        with self._lock:
            first = self._reason is None
            if first:
                self._reason, self._since = exc.reason, self._clock()
                self._next_probe = self._monotonic() + self._probe_seconds
        if first:
            log.warning("coordination degraded to in-process: %s", exc)
            if self._metrics is not None:
                self._metrics.coordination_degraded.labels(reason=exc.reason).inc()
                self._metrics.coordination_up.set(0)

    def _recover(self) -> bool:
        with self._lock:
            pending = set(self._pending_invalidations)
        try:
            for group in sorted(pending):
                self._primary.invalidate(group)
        except CoordinationUnavailable:
            return False
        with self._lock:
            self._pending_invalidations -= pending
            was_degraded, self._reason, self._since = self._reason is not None, None, None
        if was_degraded:
            log.info("coordination recovered: Redis answers again")
            if self._metrics is not None:
                self._metrics.coordination_up.set(1)
        return True

    def _call(self, on_primary: Callable[[], T], on_fallback: Callable[[], T]) -> T:
        if self._use_primary():
            try:
                return on_primary()
            except CoordinationUnavailable as exc:
                self._degrade(exc)
        return on_fallback()

    def _for_lease(self, lease: Lease) -> CoordinationBackend:
        return self._fallback if lease.origin == self._fallback.origin else self._primary

    # -- contract ---------------------------------------------------------------------------------

    def read(self, key: CacheKey) -> Snapshot:
        return self._call(lambda: self._primary.read(key), lambda: self._fallback.read(key))

    def try_lease(self, key: CacheKey, ttl_seconds: float) -> Lease | None:
        return self._call(
            lambda: self._primary.try_lease(key, ttl_seconds),
            lambda: self._fallback.try_lease(key, ttl_seconds),
        )

    def extend(self, lease: Lease, ttl_seconds: float) -> LeaseState:
        # A Redis lease while Redis is down cannot be checked: report it held and let the
        # computation finish (its store is fenced, and its callers still get the value).
        backend = self._for_lease(lease)
        if backend is self._fallback:
            return backend.extend(lease, ttl_seconds)
        return self._call(lambda: backend.extend(lease, ttl_seconds), lambda: LeaseState.HELD)

    def store(self, lease: Lease, entry: Entry) -> bool:
        backend = self._for_lease(lease)
        if backend is self._fallback:
            return backend.store(lease, entry)
        return self._call(lambda: backend.store(lease, entry), lambda: False)

    def release(self, lease: Lease) -> None:
        backend = self._for_lease(lease)
        if backend is self._fallback:
            backend.release(lease)
        else:
            self._call(lambda: backend.release(lease), lambda: None)

    def record_failure(self, key: CacheKey, base_seconds: float, cap_seconds: float) -> float:
        return self._call(
            lambda: self._primary.record_failure(key, base_seconds, cap_seconds),
            lambda: self._fallback.record_failure(key, base_seconds, cap_seconds),
        )

    def invalidate(self, group: str) -> int:
        # Always locally too: entries the fallback kept from an earlier outage must not return.
        local = self._fallback.invalidate(group)

        def remember() -> int:
            with self._lock:
                self._pending_invalidations.add(group)
            return local

        return self._call(lambda: self._primary.invalidate(group), remember)

    def watch(self, key: CacheKey) -> AbstractContextManager[Watch]:
        return self._watching(key)

    @contextmanager
    def _watching(self, key: CacheKey) -> Iterator[Watch]:
        with ExitStack() as stack:
            inner: Watch | None = None
            if self._use_primary():
                try:
                    inner = stack.enter_context(self._primary.watch(key))
                except CoordinationUnavailable as exc:
                    self._degrade(exc)
            if inner is None:
                inner = stack.enter_context(self._fallback.watch(key))
            yield _FailoverWatch(inner, stack, self._degrade, lambda: self._fallback.watch(key))

    def try_acquire_job(self, name: str, interval_seconds: float) -> bool:
        """Across replicas through Redis; while degraded, once per interval per replica."""
        return self._call(
            lambda: self._primary.try_acquire_job(name, interval_seconds),
            lambda: self._fallback.try_acquire_job(name, interval_seconds),
        )

    def status(self) -> BackendStatus:
        healthy = self._use_primary()
        with self._lock:
            return BackendStatus(self._primary.origin, healthy, self._reason, self._since)

    def close(self) -> None:
        self._primary.close()
        self._fallback.close()


class _FailoverWatch(Watch):
    """A Redis subscription that turns into an in-process one when Redis fails mid-wait."""

    def __init__(
        self,
        inner: Watch,
        stack: ExitStack,
        degrade: Callable[[CoordinationUnavailable], None],
        open_fallback: Callable[[], AbstractContextManager[Watch]],
    ) -> None:
        self._inner = inner
        self._stack = stack
        self._degrade = degrade
        self._open_fallback = open_fallback

    def wait(self, timeout: float) -> bool:
        try:
            return self._inner.wait(timeout)
        except CoordinationUnavailable as exc:
            self._degrade(exc)
            self._inner = self._stack.enter_context(self._open_fallback())
            return True  # the caller looks again, now at the fallback
