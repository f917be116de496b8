"""The coordination backend interface: shared cache entries, leases, invalidation stamps, job leases.

Two implementations: `InProcessBackend` (one process, the default) and `RedisBackend` (every
replica sharing one Redis). `ResilientBackend` puts the second in front of the first and falls
back when Redis fails. The orchestration on top (`SingleFlight`) only uses this interface.

Ordering across replicas uses *stamps*: integers (microseconds) from the backend's own clock
(Redis `TIME` for Redis, so replicas' clocks never matter), strictly increasing per backend. A
lease carries the stamp of its acquisition (its fence), an entry carries the fence of the lease
that computed it, and `invalidate(group)` records a stamp: an entry is valid only while its fence
is above its group's invalidation stamp. Freshness times (`computed_at`, `fresh_until`,
`stale_until`) are Unix seconds of the replica that stored the entry.

Every method is thread-safe. Redis failures surface as `app.errors.CoordinationUnavailable`.
"""

from __future__ import annotations

import abc
import enum
from contextlib import AbstractContextManager
from dataclasses import dataclass

_FORBIDDEN_IN_KEY = frozenset(":{} \t\r\n")

MAX_RUNNING = 2
"""Computations of one key that may run at once: the holder and one taker after a lapse."""
RUN_WINDOW_LEASES = 4
"""How many lease periods a holder counts as running after its last acquisition or extension."""


def _check_part(kind: str, value: str) -> None:
    if not value or any(ch in _FORBIDDEN_IN_KEY for ch in value):
        raise ValueError(f"coordination {kind} must be non-empty without ':', braces or spaces: {value!r}")


@dataclass(frozen=True, slots=True)
class CacheKey:
    """One shared value, e.g. `CacheKey("my-bucket", "detailed")`.

    `group` is the unit of invalidation (a bucket); `name` tells values in a group apart (a mode).
    Neither may contain ':' so stored key names stay unambiguous.
    """

    group: str
    name: str

    def __post_init__(self) -> None:
        _check_part("group", self.group)
        _check_part("name", self.name)

    def __str__(self) -> str:
        return f"{self.group}:{self.name}"


@dataclass(frozen=True, slots=True)
class Entry:
    """A computed value as stored: opaque payload bytes plus the times that govern serving it.

    `fence` is the stamp of the lease under which the computation started (it orders entries
    and invalidations); `computed_at` <= `fresh_until` <= `stale_until` are Unix seconds. After
    `stale_until` the entry must not be served at all.
    """

    payload: bytes
    fence: int
    computed_at: float
    fresh_until: float
    stale_until: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What `read` saw, atomically: the entry (or None), the group's invalidation stamp (0 when
    never invalidated), and the seconds left of a revalidation back-off (0 when none)."""

    entry: Entry | None
    invalidated: int
    backoff_seconds: float


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to compute one key. `fence` is the backend stamp at acquisition; `origin`
    names the backend that issued it (`ResilientBackend` routes follow-up calls by it)."""

    key: CacheKey
    token: str
    fence: int
    origin: str


class LeaseState(enum.StrEnum):
    HELD = "held"  # still ours; its expiry was pushed back
    REGAINED = "regained"  # it had lapsed and nobody had taken it: ours again
    LOST = "lost"  # someone else holds it now


@dataclass(frozen=True, slots=True)
class BackendStatus:
    """For /readyz: which backend answers, and why it is degraded if it is."""

    backend: str
    healthy: bool
    degraded_reason: str | None = None
    degraded_since: float | None = None


class Watch(abc.ABC):
    """Wake-ups for one key: opened (subscribed) BEFORE the caller checks state, so a store or
    release that happens after the check is never missed."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True when the key's entry or lease may have changed."""


class CoordinationBackend(abc.ABC):
    """Shared state for single-flight computation. See the module docstring for the ordering rules."""

    origin: str

    @abc.abstractmethod
    def read(self, key: CacheKey) -> Snapshot:
        """The entry, its group's invalidation stamp and back-off, read atomically."""

    @abc.abstractmethod
    def try_lease(self, key: CacheKey, ttl_seconds: float) -> Lease | None:
        """Take the key's lease for `ttl_seconds` if nobody holds it; None when somebody does.

        Also None when MAX_RUNNING computations of the key are already running: a holder counts
        as running until it releases, even after its lease lapsed, for RUN_WINDOW_LEASES lease
        periods after its last acquisition or extension. So a holder that is slow (its heartbeat
        failed) invites at most one takeover, and a holder that died frees its slot in bounded time.
        """

    @abc.abstractmethod
    def extend(self, lease: Lease, ttl_seconds: float) -> LeaseState:
        """Push the lease's expiry (and its running window) to now + `ttl_seconds` if still held,
        or take it back when it lapsed and is free (the lease keeps its original fence)."""

    @abc.abstractmethod
    def store(self, lease: Lease, entry: Entry) -> bool:
        """Fenced write of `entry` (whose fence must not exceed the lease's) and wake watchers.

        Stored only when the lease is still ours, or has lapsed with nobody else holding it, AND
        no entry with a higher fence is already stored (a later computation must never be
        overwritten by an earlier one). Clears the key's back-off. False when refused.
        """

    @abc.abstractmethod
    def release(self, lease: Lease) -> None:
        """The holder is done: drop its running slot, and the lease if it is still ours
        (compare-and-delete); wake watchers."""

    @abc.abstractmethod
    def record_failure(self, key: CacheKey, base_seconds: float, cap_seconds: float) -> float:
        """Note a failed revalidation; start a back-off of base * 2^(n-1) seconds (n consecutive
        failures, capped) and return it. A successful `store` resets the count."""

    @abc.abstractmethod
    def invalidate(self, group: str) -> int:
        """Make every entry of `group` computed under earlier leases invalid; return the stamp."""

    @abc.abstractmethod
    def watch(self, key: CacheKey) -> AbstractContextManager[Watch]:
        """Subscribe to the key's store/release wake-ups for the duration of the with-block."""

    @abc.abstractmethod
    def try_acquire_job(self, name: str, interval_seconds: float) -> bool:
        """True for at most one caller per job lease period; see the implementations."""

    @abc.abstractmethod
    def status(self) -> BackendStatus: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The backend must not be used afterwards."""


def job_lease_seconds(interval_seconds: float) -> float:
    """A job lease lasts 90% of the interval so replicas whose timers drift by less than that
    still run the job about once per interval, never twice within 90% of it."""
    return max(interval_seconds * 0.9, 0.001)
