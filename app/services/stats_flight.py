"""Stats requests through `SingleFlight`: one computation per (bucket, mode) across replicas.

`StatsFlight.get` asks the flight for the shared value of `CacheKey(bucket, mode)`; when there is
none usable, the caller's `compute` (the stats service's LIST-validated computation) runs once
across every replica, and its result is shared as a compact versioned JSON payload. How the
answer was obtained becomes `CacheOutcome`:

- the shared value within `DG_STATS_FRESH_SECONDS` -> HIT (no S3 request at all);
- a value past its fresh window, served at once while one replica revalidates, or an older value
  served because the wait budget ran out -> STALE;
- a value computed after the request looked -> REFRESH when the request asked for `refresh`,
  HIT when the computation found the stored document still valid (one LIST), MISS otherwise.

`computed_at` / `age_seconds` are those of the shared value: when its figures were last
established against the bucket (computed, or validated by a LIST).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from app.coordination.base import CacheKey
from app.coordination.singleflight import Served, SingleFlight, Source
from app.services.stats_result import CacheOutcome, StatsResult
from app.stats.model import BucketStats, StatsMode

PAYLOAD_VERSION = 1
"""Bumped when the payload changes; a replica reading another version recomputes (see `get`)."""


def encode(result: StatsResult) -> bytes:
    """The shared payload: figures, exactness and how the computation found them."""
    doc = {
        "v": PAYLOAD_VERSION,
        "stats": result.stats.to_dict(),
        "exact": result.exact,
        "outcome": result.cache.value,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode(payload: bytes) -> tuple[BucketStats, bool, CacheOutcome] | None:
    """Figures, exactness and the computation's outcome; None for another version or junk."""
    try:
        doc = json.loads(payload)
        if not isinstance(doc, dict) or doc.get("v") != PAYLOAD_VERSION:
            return None
        return BucketStats(**doc["stats"]), bool(doc["exact"]), CacheOutcome(doc["outcome"])
    except (ValueError, KeyError, TypeError):
        return None


class StatsFlight:
    """Thread-safe. `invalidate(bucket)` reaches every replica sharing the backend."""

    def __init__(self, flight: SingleFlight) -> None:
        self._flight = flight

    def get(
        self, bucket: str, mode: StatsMode, compute: Callable[[], StatsResult], *, refresh: bool
    ) -> StatsResult:
        """The shared figures for (bucket, mode); see the module docstring for the outcome.

        Raises ComputationPending when nothing servable arrives within the wait budget, and
        whatever `compute` raised (to every request that shared its computation)."""
        key = CacheKey(bucket, mode.value)
        served = self._flight.get(key, lambda: encode(compute()), refresh=refresh)
        decoded = decode(served.payload)
        if decoded is None:
            # Written by a replica of another version: have it recomputed in this one's format.
            served = self._flight.get(key, lambda: encode(compute()), refresh=True)
            decoded = decode(served.payload)
            if decoded is None:  # still unreadable (versions racing): answer uncoordinated
                return compute()
        stats, exact, computed = decoded
        return StatsResult(
            stats=stats,
            cache=_outcome(served, computed, refresh),
            computed_at=datetime.fromtimestamp(served.computed_at, UTC),
            exact=exact,
            age_seconds=served.age_seconds,
        )

    def invalidate(self, bucket: str) -> None:
        self._flight.invalidate(bucket)


def _outcome(served: Served, computed: CacheOutcome, refresh: bool) -> CacheOutcome:
    if served.source is Source.FRESH:
        return CacheOutcome.HIT
    if served.source in (Source.STALE, Source.FALLBACK):
        return CacheOutcome.STALE
    if refresh:
        return CacheOutcome.REFRESH
    return CacheOutcome.HIT if computed is CacheOutcome.HIT else CacheOutcome.MISS
