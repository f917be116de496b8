"""Pure decisions: is a shared value fresh, stale-but-servable, or must it be (re)computed?

No I/O and no clock: callers pass `now` (Unix seconds) and a `Snapshot`, and get a `Decision`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from app.coordination.base import Entry, Snapshot


@dataclass(frozen=True, slots=True)
class Policy:
    """Timings of the shared cache, in seconds.

    fresh_seconds: served with no work at all while younger than this.
    max_stale_seconds: never served once older than this (hard expiry, counted from computed_at);
      below `fresh_seconds` it is raised to it.
    wait_seconds: how long a request waits for someone else's computation before falling back.
    lease_seconds: lease length; the holder extends it every third of it while computing.
    retry_backoff_seconds / max_backoff_seconds: back-off after a failed background revalidation,
      doubling per consecutive failure.
    heartbeat: extend the lease while computing (turned off only by fault tests).
    """

    fresh_seconds: float = 30.0
    max_stale_seconds: float = 3600.0
    wait_seconds: float = 20.0
    lease_seconds: float = 15.0
    retry_backoff_seconds: float = 5.0
    max_backoff_seconds: float = 300.0
    heartbeat: bool = True

    def __post_init__(self) -> None:
        if self.fresh_seconds < 0 or self.max_stale_seconds < 0:
            raise ValueError("fresh_seconds and max_stale_seconds must be >= 0")
        if self.wait_seconds <= 0 or self.lease_seconds <= 0 or self.retry_backoff_seconds <= 0:
            raise ValueError("wait_seconds, lease_seconds and retry_backoff_seconds must be > 0")

    def entry_for(self, payload: bytes, fence: int, computed_at: float) -> Entry:
        """The entry to store for a value computed at `computed_at` under a lease with `fence`."""
        stale_for = max(self.fresh_seconds, self.max_stale_seconds)
        return Entry(
            payload=payload,
            fence=fence,
            computed_at=computed_at,
            fresh_until=computed_at + self.fresh_seconds,
            stale_until=computed_at + stale_for,
        )

    @property
    def poll_seconds(self) -> float:
        """Longest a waiter sleeps between checks for a lapsed lease (wake-ups come sooner)."""
        return min(max(self.lease_seconds / 4, 0.05), 1.0)

    @property
    def retry_after_seconds(self) -> float:
        """The Retry-After hint when nothing can be served yet: a heartbeat period, at least 1 s."""
        return float(max(1, math.ceil(self.lease_seconds / 3)))


class Verdict(enum.StrEnum):
    FRESH = "fresh"  # serve it, do nothing else
    STALE = "stale"  # serve it at once; revalidate in the background (unless backing off)
    REFRESH = "refresh"  # must compute (invalidated or a newer value was asked for); may fall back
    MISS = "miss"  # nothing servable: must compute, nothing to fall back to


@dataclass(frozen=True, slots=True)
class Decision:
    """`floor`: a value is acceptable as "new" only when its fence is above it.
    `fallback`: what may be served if the wait budget runs out (None = nothing).
    `revalidate`: for STALE, whether a background revalidation should start now."""

    verdict: Verdict
    floor: int
    fallback: Entry | None
    revalidate: bool = False


def servable(entry: Entry | None, now: float) -> Entry | None:
    """The entry if it is still within its hard expiry."""
    if entry is None or now >= entry.stale_until:
        return None
    return entry


def acceptable(snapshot: Snapshot, now: float, floor: int) -> Entry | None:
    """The snapshot's entry if it is servable, not invalidated, and newer than `floor`."""
    entry = servable(snapshot.entry, now)
    if entry is None or entry.fence <= max(floor, snapshot.invalidated):
        return None
    return entry


def decide(snapshot: Snapshot, now: float, newer_than: int | None = None) -> Decision:
    """Classify a snapshot.

    `newer_than` (a fence) asks for a value computed after the one the caller already saw
    (an explicit refresh); an invalidated entry is treated the same way, so an upload through
    any replica is reflected in the next answer rather than after a stale round.
    """
    floor = snapshot.invalidated if newer_than is None else max(snapshot.invalidated, newer_than)
    entry = servable(snapshot.entry, now)
    if entry is None:
        return Decision(Verdict.MISS, floor, None)
    if entry.fence <= floor:
        return Decision(Verdict.REFRESH, floor, entry)
    if now < entry.fresh_until:
        return Decision(Verdict.FRESH, floor, entry)
    return Decision(Verdict.STALE, floor, entry, revalidate=snapshot.backoff_seconds <= 0)
