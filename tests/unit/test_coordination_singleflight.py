"""SingleFlight over the in-process backend, with real threads.

Two SingleFlight objects sharing one backend stand in for two replicas sharing Redis (the Redis
variants run in tests/integration/test_coordination_redis.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from app.coordination.base import CacheKey
from app.coordination.freshness import Policy
from app.coordination.inprocess import InProcessBackend
from app.coordination.singleflight import Served, SingleFlight, Source
from app.errors import ComputationPending
from app.observability.metrics import Metrics

KEY = CacheKey("bucket", "detailed")


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Computation:
    """Counts runs; each run's payload is unique, so equal answers mean one computation."""

    def __init__(
        self, gate: threading.Event | None = None, fail: bool = False, seconds: float = 0.0, tag: str = "run"
    ) -> None:
        self.runs = 0
        self.tag = tag
        self.gate = gate
        self.fail = fail
        self.seconds = seconds
        self.started = threading.Event()
        self.finished = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            self.runs += 1
            run = self.runs
        self.started.set()
        try:
            if self.gate is not None:
                assert self.gate.wait(10)
            if self.seconds:
                time.sleep(self.seconds)  # the slow work being simulated
            if self.fail:
                raise RuntimeError("S3 is down")
            return f"{self.tag}-{run}".encode()
        finally:
            self.finished.set()


def metrics_value(metrics: Metrics, event: str) -> float:
    value = metrics.registry.get_sample_value("dg_stats_lease_events_total", {"event": event})
    return value or 0.0


def run_threads(n: int, target: Callable[[int], Served]) -> tuple[list[Served], list[BaseException]]:
    """Start `n` threads at once (a barrier), thread i calling target(i); collect answers and errors."""
    barrier = threading.Barrier(n)
    results: list[Served] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def call(index: int) -> None:
        barrier.wait(10)
        try:
            got = target(index)
            with lock:
                results.append(got)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results, errors


def wait_for_store(backend: InProcessBackend, key: CacheKey, payload: bytes) -> None:
    deadline = time.monotonic() + 10
    with backend.watch(key) as watch:
        while True:
            entry = backend.read(key).entry
            if entry is not None and entry.payload == payload:
                return
            assert time.monotonic() < deadline, "the value never landed"
            watch.wait(0.5)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend(clock: Clock) -> InProcessBackend:
    return InProcessBackend(clock=clock)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def make(
    backend: InProcessBackend, clock: Clock, metrics: Metrics | None = None, **policy: float
) -> SingleFlight:
    return SingleFlight(backend, Policy(**policy), metrics=metrics, clock=clock)  # type: ignore[arg-type]


def test_cold_key_many_threads_one_computation(backend: InProcessBackend, clock: Clock) -> None:
    flight = make(backend, clock)
    compute = Computation(seconds=0.2)
    results, errors = run_threads(16, lambda _: flight.get(KEY, compute))
    assert errors == []
    assert compute.runs == 1
    assert {r.payload for r in results} == {b"run-1"}
    assert {r.source for r in results} == {Source.NEW}


def test_fresh_value_answers_with_no_work(backend: InProcessBackend, clock: Clock) -> None:
    flight = make(backend, clock, fresh_seconds=30)
    compute = Computation()
    assert flight.get(KEY, compute).source is Source.NEW
    clock.now += 29
    served = flight.get(KEY, compute)
    assert served.source is Source.FRESH
    assert served.age_seconds == pytest.approx(29)
    assert compute.runs == 1


def test_stale_is_served_at_once_and_revalidated_once(
    backend: InProcessBackend, clock: Clock, metrics: Metrics
) -> None:
    flight = make(backend, clock, metrics, fresh_seconds=30, max_stale_seconds=3600)
    first = Computation()
    flight.get(KEY, first)
    clock.now += 60
    gate = threading.Event()
    second = Computation(gate=gate, tag="again")
    results, errors = run_threads(12, lambda _: flight.get(KEY, second))
    # Every caller got the stale value while the revalidation is still blocked.
    assert errors == []
    assert {(r.payload, r.source) for r in results} == {(b"run-1", Source.STALE)}
    assert second.started.wait(5)
    gate.set()
    wait_for_store(backend, KEY, b"again-1")
    assert second.runs == 1
    assert metrics_value(metrics, "revalidate") == 1
    served = flight.get(KEY, second)
    assert (served.source, served.payload) == (Source.FRESH, b"again-1")


def test_failed_revalidation_serves_stale_and_backs_off(
    backend: InProcessBackend, clock: Clock, metrics: Metrics
) -> None:
    flight = make(backend, clock, metrics, fresh_seconds=1, retry_backoff_seconds=60)
    flight.get(KEY, Computation())
    clock.now += 5
    failing = Computation(fail=True)
    assert flight.get(KEY, failing).source is Source.STALE
    deadline = time.monotonic() + 10
    while backend.read(KEY).backoff_seconds == 0:  # the failure is recorded right after compute raises
        assert time.monotonic() < deadline
        assert failing.finished.wait(5)
        time.sleep(0.01)
    for _ in range(5):
        served = flight.get(KEY, failing)
        assert served.source is Source.STALE
        assert served.payload == b"run-1"
    assert failing.runs == 1  # no retry during the back-off
    assert metrics_value(metrics, "revalidate_failed") == 1


def test_past_max_stale_computes_synchronously(backend: InProcessBackend, clock: Clock) -> None:
    flight = make(backend, clock, fresh_seconds=1, max_stale_seconds=10)
    flight.get(KEY, Computation())
    clock.now += 11
    compute = Computation()
    served = flight.get(KEY, compute)
    assert served.source is Source.NEW
    assert compute.runs == 1


def test_invalidation_forces_a_new_value_even_when_fresh(backend: InProcessBackend, clock: Clock) -> None:
    replica_a = make(backend, clock, fresh_seconds=300)
    replica_b = make(backend, clock, fresh_seconds=300)
    replica_b.get(KEY, Computation())
    replica_a.invalidate(KEY.group)
    compute = Computation()
    served = replica_b.get(KEY, compute)
    assert served.source is Source.NEW
    assert compute.runs == 1
    assert replica_b.get(KEY, compute).source is Source.FRESH


def test_invalidation_during_a_computation_is_not_missed(backend: InProcessBackend, clock: Clock) -> None:
    flight = make(backend, clock)
    gate = threading.Event()
    compute = Computation(gate=gate)
    early: list[Served] = []
    early_caller = threading.Thread(target=lambda: early.append(flight.get(KEY, compute)))
    early_caller.start()
    assert compute.started.wait(5)
    flight.invalidate(KEY.group)  # an upload finished while the computation was listing
    late: list[Served] = []
    late_caller = threading.Thread(target=lambda: late.append(flight.get(KEY, compute)))
    late_caller.start()
    gate.set()
    early_caller.join(10)
    late_caller.join(10)
    assert early[0].payload == b"run-1"  # it asked before the upload finished
    assert late[0].payload == b"run-2"  # it asked after: the first result is not good enough
    assert compute.runs == 2


def test_wait_budget_gives_pending_then_the_value_lands(backend: InProcessBackend, clock: Clock) -> None:
    flight = make(backend, clock, lease_seconds=3)
    gate = threading.Event()
    compute = Computation(gate=gate)
    with pytest.raises(ComputationPending) as caught:
        flight.get(KEY, compute, wait_seconds=0.1)
    assert caught.value.retry_after == 1.0
    gate.set()
    wait_for_store(backend, KEY, b"run-1")
    assert flight.get(KEY, compute).source is Source.FRESH
    assert compute.runs == 1


def test_wait_budget_falls_back_to_an_invalidated_value(backend: InProcessBackend, clock: Clock) -> None:
    flight = make(backend, clock)
    flight.get(KEY, Computation())
    flight.invalidate(KEY.group)
    gate = threading.Event()
    served = flight.get(KEY, Computation(gate=gate), wait_seconds=0.1)
    gate.set()
    assert served.source is Source.FALLBACK
    assert served.payload == b"run-1"


def test_compute_error_reaches_every_sharer_and_is_not_cached(
    backend: InProcessBackend, clock: Clock
) -> None:
    flight = make(backend, clock)
    failing = Computation(fail=True, seconds=0.1)
    results, errors = run_threads(6, lambda _: flight.get(KEY, failing))
    assert results == []
    assert len(errors) == 6
    assert all(isinstance(e, RuntimeError) for e in errors)
    assert failing.runs == 1
    assert flight.get(KEY, Computation()).payload == b"run-1"


def test_refresh_computes_despite_a_fresh_value(backend: InProcessBackend, clock: Clock) -> None:
    flight = make(backend, clock, fresh_seconds=300)
    flight.get(KEY, Computation())
    again = Computation()
    served = flight.get(KEY, again, refresh=True)
    assert served.source is Source.NEW
    assert again.runs == 1


def test_other_replica_waits_for_the_holder(
    backend: InProcessBackend, clock: Clock, metrics: Metrics
) -> None:
    replica_a = make(backend, clock)
    replica_b = make(backend, clock, metrics)
    gate = threading.Event()
    compute_a = Computation(gate=gate)
    compute_b = Computation()
    got_a: list[Served] = []
    holder = threading.Thread(target=lambda: got_a.append(replica_a.get(KEY, compute_a)))
    holder.start()
    assert compute_a.started.wait(5)
    got_b: list[Served] = []
    waiter = threading.Thread(target=lambda: got_b.append(replica_b.get(KEY, compute_b)))
    waiter.start()
    deadline = time.monotonic() + 5
    while metrics_value(metrics, "wait") < 1:  # B is now subscribed and waiting
        assert time.monotonic() < deadline
        time.sleep(0.01)
    gate.set()
    holder.join(10)
    waiter.join(10)
    assert compute_b.runs == 0
    assert got_a[0].payload == got_b[0].payload == b"run-1"


def test_waiter_takes_over_when_the_holder_dies(
    backend: InProcessBackend, clock: Clock, metrics: Metrics
) -> None:
    dead = backend.try_lease(KEY, 0.3)  # a holder that will never store nor release
    assert dead is not None
    flight = make(backend, clock, metrics, lease_seconds=0.3, wait_seconds=10)
    compute = Computation()
    served = flight.get(KEY, compute)
    assert served.source is Source.NEW
    assert compute.runs == 1
    assert metrics_value(metrics, "takeover") == 1


def test_heartbeat_keeps_a_short_lease(backend: InProcessBackend, clock: Clock) -> None:
    replica_a = make(backend, clock, lease_seconds=0.15)
    replica_b = make(backend, clock, lease_seconds=0.15)
    compute = Computation(seconds=0.8)
    results, errors = run_threads(8, lambda i: (replica_a if i % 2 else replica_b).get(KEY, compute))
    assert errors == []
    assert compute.runs == 1
    assert {r.payload for r in results} == {b"run-1"}


def test_without_heartbeat_at_most_one_extra_computation(backend: InProcessBackend, clock: Clock) -> None:
    replica_a = make(backend, clock, lease_seconds=0.15, heartbeat=False)
    replica_b = make(backend, clock, lease_seconds=0.15, heartbeat=False)
    compute = Computation(seconds=0.5)
    got: list[Served] = []
    first = threading.Thread(target=lambda: got.append(replica_a.get(KEY, compute)))
    first.start()
    assert compute.started.wait(5)
    second = replica_b.get(KEY, compute)  # the lease lapses under A: B takes over
    first.join(10)
    assert compute.runs == 2
    final = backend.read(KEY).entry
    assert final is not None
    assert second.payload == final.payload == b"run-2"  # the later computation's value stays
    assert got[0].payload == b"run-1"


def test_job_lease_passes_through(backend: InProcessBackend, clock: Clock) -> None:
    replica_a = make(backend, clock)
    replica_b = make(backend, clock)
    assert replica_a.try_acquire_job("warm_stats", 60)
    assert not replica_b.try_acquire_job("warm_stats", 60)
    assert replica_a.status().healthy
