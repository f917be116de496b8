"""ResilientBackend's fail-over logic, with a primary that can be switched off.

The primary here is an in-process backend that raises CoordinationUnavailable while `down`: the
wrapper's decisions are what is tested. Real Redis outages: tests/integration/test_coordination_redis.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from prometheus_client import CollectorRegistry

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
from app.coordination.resilient import ResilientBackend
from app.coordination.singleflight import SingleFlight, Source
from app.errors import CoordinationUnavailable
from app.observability.metrics import Metrics

KEY = CacheKey("bucket", "quick")


class Switchable(CoordinationBackend):
    """A stand-in for Redis: an in-process store that fails every call while `down`."""

    origin = "redis"

    def __init__(self) -> None:
        self.inner = InProcessBackend()
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise CoordinationUnavailable("switched off", reason="connection")

    def read(self, key: CacheKey) -> Snapshot:
        self._check()
        return self.inner.read(key)

    def try_lease(self, key: CacheKey, ttl_seconds: float) -> Lease | None:
        self._check()
        lease = self.inner.try_lease(key, ttl_seconds)
        return None if lease is None else Lease(lease.key, lease.token, lease.fence, self.origin)

    def extend(self, lease: Lease, ttl_seconds: float) -> LeaseState:
        self._check()
        return self.inner.extend(lease, ttl_seconds)

    def store(self, lease: Lease, entry: Entry) -> bool:
        self._check()
        return self.inner.store(lease, entry)

    def release(self, lease: Lease) -> None:
        self._check()
        self.inner.release(lease)

    def record_failure(self, key: CacheKey, base_seconds: float, cap_seconds: float) -> float:
        self._check()
        return self.inner.record_failure(key, base_seconds, cap_seconds)

    def invalidate(self, group: str) -> int:
        self._check()
        return self.inner.invalidate(group)

    def watch(self, key: CacheKey) -> AbstractContextManager[Watch]:
        return self._watching(key)

    @contextmanager
    def _watching(self, key: CacheKey) -> Iterator[Watch]:
        self._check()
        with self.inner.watch(key) as watch:
            yield _SwitchableWatch(self, watch)

    def try_acquire_job(self, name: str, interval_seconds: float) -> bool:
        self._check()
        return self.inner.try_acquire_job(name, interval_seconds)

    def status(self) -> BackendStatus:
        return BackendStatus(
            self.origin, healthy=not self.down, degraded_reason="connection" if self.down else None
        )

    def close(self) -> None:
        self.inner.close()


class _SwitchableWatch(Watch):
    def __init__(self, owner: Switchable, inner: Watch) -> None:
        self._owner = owner
        self._inner = inner

    def wait(self, timeout: float) -> bool:
        self._owner._check()
        return self._inner.wait(timeout)


class Ticker:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def build() -> tuple[Switchable, ResilientBackend, Metrics, Ticker]:
    primary = Switchable()
    metrics = Metrics(CollectorRegistry())
    ticker = Ticker()
    backend = ResilientBackend(
        primary, InProcessBackend(), metrics=metrics, probe_seconds=5, monotonic=ticker
    )
    return primary, backend, metrics, ticker


def sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


def test_healthy_primary_is_used() -> None:
    primary, backend, metrics, _ = build()
    lease = backend.try_lease(KEY, 10)
    assert lease is not None
    assert lease.origin == "redis"
    assert primary.inner.try_lease(KEY, 10) is None  # the lease lives in the primary
    assert backend.status().healthy
    assert sample(metrics, "dg_coordination_up") == 1


def test_failure_degrades_once_and_serves_from_fallback() -> None:
    primary, backend, metrics, _ = build()
    primary.down = True
    lease = backend.try_lease(KEY, 10)
    assert lease is not None
    assert lease.origin == "inprocess"
    assert backend.read(KEY).entry is None
    assert backend.try_acquire_job("warm_stats", 60)
    status = backend.status()
    assert not status.healthy
    assert status.degraded_reason == "connection"
    assert sample(metrics, "dg_coordination_degraded_total", {"reason": "connection"}) == 1
    assert sample(metrics, "dg_coordination_up") == 0
    calls = primary.calls
    backend.read(KEY)
    assert primary.calls == calls  # no retry before the probe interval


def test_recovers_after_probe_and_replays_invalidations() -> None:
    primary, backend, metrics, ticker = build()
    before = primary.inner.try_lease(KEY, 10)
    assert before is not None
    primary.inner.store(before, Entry(b"old", before.fence, 0, 1e12, 1e12))
    primary.inner.release(before)
    primary.down = True
    backend.invalidate(KEY.group)  # an upload during the outage
    assert backend.read(KEY).invalidated > 0  # the fallback knows at once
    primary.down = False
    assert not backend.status().healthy  # not probed yet
    ticker.now = 10
    assert backend.status().healthy
    assert sample(metrics, "dg_coordination_up") == 1
    snap = backend.read(KEY)
    assert snap.entry is not None
    assert snap.entry.fence <= snap.invalidated


def test_leases_are_routed_to_their_issuer() -> None:
    primary, backend, _, _ = build()
    redis_lease = backend.try_lease(KEY, 10)
    assert redis_lease is not None
    primary.down = True
    # Redis went away mid-computation: the holder is told to carry on, the store is refused.
    assert backend.extend(redis_lease, 10) is LeaseState.HELD
    assert not backend.store(redis_lease, Entry(b"v", redis_lease.fence, 0, 1, 2))
    backend.release(redis_lease)
    local = backend.try_lease(KEY, 10)
    assert local is not None
    assert local.origin == "inprocess"
    assert backend.store(local, Entry(b"v", local.fence, 0, 1e12, 1e12))
    entry = backend.read(KEY).entry
    assert entry is not None
    assert entry.payload == b"v"


def test_watch_fails_over_mid_wait() -> None:
    primary, backend, metrics, _ = build()
    with backend.watch(KEY) as watch:
        assert not watch.wait(0.01)  # subscribed to the primary, nothing happened
        primary.down = True
        assert watch.wait(0.01)  # the primary failed: "look again"
        assert not backend.status().healthy
        lease = backend.try_lease(KEY, 10)  # now from the fallback
        assert lease is not None
        assert lease.origin == "inprocess"
        backend.release(lease)
        assert watch.wait(1)  # and the watch now follows the fallback
    assert sample(metrics, "dg_coordination_degraded_total", {"reason": "connection"}) == 1


def test_singleflight_keeps_answering_when_the_primary_dies() -> None:
    primary, backend, _, _ = build()
    flight = SingleFlight(backend)
    assert flight.get(KEY, lambda: b"one").source is Source.NEW
    primary.down = True
    served = flight.get(CacheKey("bucket", "detailed"), lambda: b"two")
    assert served.source is Source.NEW
    assert served.payload == b"two"
    assert not flight.status().healthy
