"""Single-flight computation with stale-while-revalidate, in one process and across replicas.

`SingleFlight.get(key, compute)` answers from the shared entry when it is fresh (no work), serves
a stale entry at once while ONE background revalidation runs (on whichever replica takes the
lease), and otherwise has the value computed exactly once: one flight per key per process (local
callers share it), one lease holder per key across replicas (other replicas' flights wait for its
result). Computations run on flight threads, so every caller, including the one that started a
flight, waits at most its wait budget; after it the caller gets the stale value if there is one,
else `ComputationPending` (the computation carries on and stores its result for the retry).
"""

from __future__ import annotations

import contextvars
import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.coordination.base import BackendStatus, CacheKey, CoordinationBackend, Entry, Lease
from app.coordination.freshness import Decision, Policy, Verdict, acceptable, decide, servable
from app.coordination.heartbeat import LeaseHeartbeat
from app.errors import ComputationPending, CoordinationUnavailable
from app.observability.metrics import Metrics

log = logging.getLogger(__name__)

Compute = Callable[[], bytes]


class Source(enum.StrEnum):
    FRESH = "fresh"  # the shared value, within its fresh window: no work done
    STALE = "stale"  # past its fresh window, served at once; a revalidation runs (or backs off)
    NEW = "new"  # computed after this request looked (here or on another replica)
    FALLBACK = "fallback"  # the wait budget ran out; an older (stale or invalidated) value


@dataclass(frozen=True, slots=True)
class Served:
    """An answer: the payload, where it came from, and when it was computed (Unix seconds)."""

    payload: bytes
    source: Source
    computed_at: float
    age_seconds: float


class _Flight:
    """One computation (or wait for another replica's) per key per process."""

    __slots__ = ("background", "done", "entry", "error", "floor")

    def __init__(self, floor: int, background: bool) -> None:
        self.floor = floor
        self.background = background
        self.done = threading.Event()
        self.entry: Entry | None = None
        self.error: Exception | None = None


class SingleFlight:
    """Thread-safe orchestration over a `CoordinationBackend`; see the module docstring.

    `clock` gives Unix seconds (freshness); waits use `time.monotonic`.
    """

    def __init__(
        self,
        backend: CoordinationBackend,
        policy: Policy | None = None,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend
        self._policy = policy if policy is not None else Policy()
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._flights: dict[CacheKey, _Flight] = {}
        self._threads: set[threading.Thread] = set()

    @property
    def policy(self) -> Policy:
        return self._policy

    # -- the API --------------------------------------------------------------------------------

    def get(
        self, key: CacheKey, compute: Compute, *, refresh: bool = False, wait_seconds: float | None = None
    ) -> Served:
        """The value for `key`: fresh, stale (revalidating), or newly computed by `compute`.

        `refresh=True` wants a value computed after this call looked (an in-flight computation
        that finishes later counts). An invalidated value is never answered while a new one
        arrives within the wait budget (`wait_seconds`, default the policy's).
        `compute` runs on a flight thread, at most once per key at a time across replicas; when
        callers share a flight, the first caller's `compute` is the one that runs.
        Raises: ComputationPending (nothing servable within the budget); whatever `compute`
        raised, to every caller sharing that flight; CoordinationUnavailable only from a
        backend that is not resilient.
        """
        budget = self._policy.wait_seconds if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + budget
        newer_than: int | None = None
        while True:
            snapshot = self._backend.read(key)
            now = self._clock()
            if refresh and newer_than is None:
                newer_than = snapshot.entry.fence if snapshot.entry is not None else 0
            decision = decide(snapshot, now, newer_than)
            if decision.verdict is Verdict.FRESH and decision.fallback is not None:
                return self._served(decision.fallback, Source.FRESH, now)
            if decision.verdict is Verdict.STALE and decision.fallback is not None:
                if decision.revalidate:
                    self._flight(key, compute, max(decision.floor, decision.fallback.fence), background=True)
                return self._served(decision.fallback, Source.STALE, now)
            flight = self._flight(key, compute, decision.floor, background=False)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not flight.done.wait(remaining):
                return self._fall_back(key, decision)
            if flight.error is not None:
                raise flight.error
            if flight.entry is not None and flight.entry.fence > decision.floor:
                return self._served(flight.entry, Source.NEW, self._clock())
            # The flight produced nothing this request may use (a revalidation lost the lease race,
            # or its value predates an invalidation this request saw): look again.
            if time.monotonic() >= deadline:
                return self._fall_back(key, decision)

    def invalidate(self, group: str) -> None:
        """Every replica stops serving values of `group` computed before now (see `decide`)."""
        self._backend.invalidate(group)

    def try_acquire_job(self, name: str, interval_seconds: float) -> bool:
        """True when this replica should run job `name` now (one replica per interval)."""
        return self._backend.try_acquire_job(name, interval_seconds)

    def status(self) -> BackendStatus:
        return self._backend.status()

    def close(self, timeout: float = 5.0) -> None:
        """Wait up to `timeout` seconds for running flights, then close the backend."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._backend.close()

    # -- answers ----------------------------------------------------------------------------------

    def _served(self, entry: Entry, source: Source, now: float) -> Served:
        return Served(entry.payload, source, entry.computed_at, max(0.0, now - entry.computed_at))

    def _fall_back(self, key: CacheKey, decision: Decision) -> Served:
        now = self._clock()
        entry = servable(decision.fallback, now)
        if entry is not None:
            self._event("fallback_stale")
            return self._served(entry, Source.FALLBACK, now)
        self._event("pending")
        raise ComputationPending(
            f"a value for {key} is being computed; retry later", retry_after=self._policy.retry_after_seconds
        )

    def _event(self, event: str) -> None:
        if self._metrics is not None:
            self._metrics.stats_lease_events.labels(event=event).inc()

    # -- flights ----------------------------------------------------------------------------------

    def _flight(self, key: CacheKey, compute: Compute, floor: int, *, background: bool) -> _Flight:
        """The key's running flight, or a new one started on its own thread."""
        with self._lock:
            running = self._flights.get(key)
            if running is not None:
                return running
            flight = _Flight(floor, background)
            self._flights[key] = flight
            context = contextvars.copy_context()  # keeps the request id in the flight's logs
            thread = threading.Thread(
                target=context.run, args=(self._fly, key, flight, compute), name=f"flight-{key}", daemon=True
            )
            self._threads.add(thread)
        thread.start()
        return flight

    def _fly(self, key: CacheKey, flight: _Flight, compute: Compute) -> None:
        entry: Entry | None = None
        error: Exception | None = None
        try:
            entry = (
                self._revalidate(key, flight, compute)
                if flight.background
                else self._obtain(key, flight, compute)
            )
        except Exception as exc:  # noqa: BLE001 - handed to every caller of this flight, raised there
            error = exc
        with self._lock:
            # Unregister before waking callers, so a caller that looks again starts a new flight.
            del self._flights[key]
            self._threads.discard(threading.current_thread())
        flight.entry, flight.error = entry, error
        flight.done.set()

    def _obtain(self, key: CacheKey, flight: _Flight, compute: Compute) -> Entry | None:
        """Compute under the lease, or wait for the holder's value; None if the budget ran out."""
        lease = self._backend.try_lease(key, self._policy.lease_seconds)
        if lease is not None:
            self._event("acquired")
            return self._compute_under(lease, flight.floor, compute)
        self._event("wait")
        deadline = time.monotonic() + self._policy.wait_seconds
        with self._backend.watch(key) as watch:
            while True:
                # Subscribed first, then checked: a store landing in between still wakes us.
                found = acceptable(self._backend.read(key), self._clock(), flight.floor)
                if found is not None:
                    return found
                lease = self._backend.try_lease(key, self._policy.lease_seconds)
                if lease is not None:
                    # The holder released without a usable value, or died and its lease lapsed.
                    self._event("takeover")
                    return self._compute_under(lease, flight.floor, compute)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                watch.wait(min(remaining, self._policy.poll_seconds))

    def _revalidate(self, key: CacheKey, flight: _Flight, compute: Compute) -> Entry | None:
        """One background revalidation if this replica wins the lease; failures back off."""
        lease = self._backend.try_lease(key, self._policy.lease_seconds)
        if lease is None:
            return None  # another replica is revalidating
        self._event("revalidate")
        try:
            return self._compute_under(lease, flight.floor, compute)
        except Exception as exc:  # noqa: BLE001 - background edge: the stale value is still served
            self._event("revalidate_failed")
            delay = self._policy.retry_backoff_seconds
            try:
                delay = self._backend.record_failure(
                    key, self._policy.retry_backoff_seconds, self._policy.max_backoff_seconds
                )
            except CoordinationUnavailable:
                log.warning("could not record the failed revalidation of %s", key)
            log.warning("background revalidation of %s failed (%r); next try in %.1fs", key, exc, delay)
            return None

    def _compute_under(self, lease: Lease, floor: int, compute: Compute) -> Entry:
        """Run `compute` while holding (and heart-beating) `lease`; store the result fenced."""
        try:
            # Double-check under the lease: a holder that just finished and released would
            # otherwise be followed by a second, useless computation.
            done = acceptable(self._backend.read(lease.key), self._clock(), floor)
            if done is not None:
                self._event("already_done")
                return done
            if self._policy.heartbeat:
                with LeaseHeartbeat(self._backend, lease, self._policy.lease_seconds, self._event):
                    payload = compute()
            else:
                payload = compute()
            entry = self._policy.entry_for(payload, lease.fence, self._clock())
            self._store(lease, entry)
            return entry
        finally:
            try:
                self._backend.release(lease)
            except CoordinationUnavailable:
                log.warning("could not release the lease on %s; it will lapse", lease.key)

    def _store(self, lease: Lease, entry: Entry) -> None:
        try:
            stored = self._backend.store(lease, entry)
        except CoordinationUnavailable as exc:
            log.warning("could not store the value of %s: %s", lease.key, exc)
            stored = False
        if not stored:
            # Our callers still get this value; the shared entry keeps the later computation's.
            self._event("store_rejected")
