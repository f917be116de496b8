"""StatsService: bucket statistics with the S3-stored cache document, validated by one LIST.

`get` = LIST (always: it is the validation) -> the cached document for the mode when its
fingerprint matches (HIT) -> otherwise an incremental computation (MISS: no usable document,
STALE: the bucket changed) that HEADs only what the stored facts do not cover, then stores the
document and facts. `refresh=True` recomputes every shard from its facts without trusting any
stored totals (REFRESH); `use_cache=False` reads and writes nothing under `.deltaglider/` and
HEADs as a cold run would (BYPASS).

A computation stores its document under its own mode and under every cheaper mode (all modes
when exact): with the facts just stored, those modes would compute the very same figures, so a
quick request after a detailed one is a hit with exact figures.

Request-level caching across replicas: with a `SingleFlight` (the service's wiring) a request
that may use the cache goes through `StatsFlight` (`stats_flight.py`): within the fresh window
the shared value answers with no S3 request; otherwise the LIST-validated `get` above runs once
per (bucket, mode) across all replicas, stale values are served while one replica revalidates,
and `invalidate` reaches every replica. Without one (the CLI), every call validates with a LIST.
`use_cache=False` never goes through the flight.

Cache failures never fail a request: a failed or unparsable read is a counted miss
(`dg_stats_cache_errors{operation=read|parse}`), a failed write logs a warning and is counted
(`operation=write`); the per-object facts count `index_read`, `index_write` and `index_parse`
the same way. Bucket and access errors propagate as typed errors. Thread-safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app import TOOL_NAME
from app.coordination.singleflight import SingleFlight
from app.domain.keys import validate_bucket
from app.services.stats_flight import StatsFlight
from app.services.stats_result import CacheOutcome, StatsResult
from app.stats.census import Census
from app.stats.compute import (
    WAVE_DELTAS,
    ProgressCallback,
    ProgressReporter,
    StatsComputer,
    StatsProgress,
    list_bucket,
)
from app.stats.document import DocumentStore, StatsDocument
from app.stats.fingerprint import SHARD_COUNT
from app.stats.index import Fact, FactIndex, known_originals
from app.stats.model import StatsMode
from app.stats.prefetch import HeadPrefetch, PrefetchGate
from app.storage.base import ObjectStore

if TYPE_CHECKING:
    from app.observability.metrics import Metrics

__all__ = ["CacheOutcome", "StatsProgress", "StatsResult", "StatsService"]

_log = logging.getLogger(__name__)


# Concurrent requests' document reads run in parallel up to this many (the API's default worker
# count); threads are only started when that many requests overlap.
_SIDE_WORKERS = 32

_ORDER = (StatsMode.QUICK, StatsMode.SAMPLED, StatsMode.DETAILED)


def _modes_covered(mode: StatsMode, exact: bool) -> tuple[StatsMode, ...]:
    """Modes whose document these figures are: `mode` first, then every cheaper mode (which would
    compute the same figures from the facts just stored), and every mode when exact."""
    if exact:
        return (mode, *(m for m in _ORDER if m is not mode))
    cheaper = _ORDER[: _ORDER.index(mode)]
    return (mode, *reversed(cheaper))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StatsService:
    def __init__(
        self,
        store: ObjectStore,
        *,
        metrics: Metrics | None = None,
        head_concurrency: int = 64,
        flight: SingleFlight | None = None,
        tool: str = TOOL_NAME,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        """`flight` coordinates cached requests (fresh window, single-flight, shared invalidation)."""
        self._store = store
        self._metrics = metrics
        self._computer = StatsComputer(store, head_concurrency=head_concurrency)
        self._documents = DocumentStore(store, self._cache_error)
        self._head_concurrency = head_concurrency
        self._flight = StatsFlight(flight) if flight is not None else None
        self._tool = tool
        self._now = now
        # Document reads and prefetch decisions run beside the LIST. One pool per service (threads
        # start on demand and end with the pool), not one per request. A request submits its read
        # before its decision and the queue is FIFO, so a decision waiting on its read never
        # starves it. No close() is needed: idle workers exit when the service is collected or at
        # interpreter exit; `close` lets an owner end them sooner.
        self._side = ThreadPoolExecutor(_SIDE_WORKERS, thread_name_prefix="dg-stats-side")

    # -- public API ------------------------------------------------------------------------
    def get(
        self,
        bucket: str,
        mode: StatsMode,
        *,
        refresh: bool = False,
        use_cache: bool = True,
        progress: ProgressCallback | None = None,
    ) -> StatsResult:
        """The figures for (bucket, mode) and how they were obtained (see the module docstring).
        Raises BucketNotFound, InvalidInput, storage errors, and ComputationPending (503) when a
        computation elsewhere outlasts the wait budget with nothing older to serve."""
        validate_bucket(bucket)
        mode = StatsMode(mode)
        if self._flight is not None and use_cache:
            result = self._flight.get(
                bucket, mode, lambda: self._validated(bucket, mode, refresh, True, progress), refresh=refresh
            )
        else:
            result = self._validated(bucket, mode, refresh, use_cache, progress)
        self._count(mode, result)
        return result

    def close(self) -> None:
        """End the side pool's threads (waits for running reads); `get` must not be called after."""
        self._side.shutdown(wait=True)

    def invalidate(self, bucket: str) -> None:
        """Mark `bucket`'s shared figures stale on every replica (uploads and deletes call this;
        the S3 document validates itself)."""
        if self._flight is not None:
            self._flight.invalidate(bucket)

    def known_originals(self, bucket: str, deltas: Iterable[tuple[str, str, int]]) -> dict[str, int]:
        """Listed deltas' original sizes as the stats index knows them (see `known_originals`)."""
        return known_originals(FactIndex(self._store, bucket, self._cache_error), deltas)

    # -- steps -------------------------------------------------------------------------------
    def _validated(
        self, bucket: str, mode: StatsMode, refresh: bool, use_cache: bool, progress: ProgressCallback | None
    ) -> StatsResult:
        """One LIST, then the stored document when it still matches, else a computation."""
        reporter = ProgressReporter(progress)
        census, doc, learned = self._scan(
            bucket, mode, reporter, read_document=use_cache and not refresh, prefetch=not refresh
        )
        fingerprint = census.fingerprint()
        if doc is not None and doc.matches(fingerprint.value, census.listed, census.stored_bytes):
            reporter.enter("done")
            return self._from_document(doc, CacheOutcome.HIT)
        outcome = (
            CacheOutcome.BYPASS
            if not use_cache
            else CacheOutcome.REFRESH
            if refresh
            else CacheOutcome.STALE
            if doc is not None
            else CacheOutcome.MISS
        )
        return self._compute(bucket, mode, census, outcome, reporter, learned=learned)

    def _scan(
        self, bucket: str, mode: StatsMode, reporter: ProgressReporter, *, read_document: bool, prefetch: bool
    ) -> tuple[Census, StatsDocument | None, tuple[dict[str, Fact], int]]:
        """The LIST, with the cached document read alongside it (a hit then costs the LIST
        alone) and, for a detailed computation that will HEAD everything, HEADs during it."""
        pending: Future[StatsDocument | None] | None = None
        gate: PrefetchGate | None = None
        decision: Future[bool] | None = None
        learned: tuple[dict[str, Fact], int] = ({}, 0)
        try:
            if read_document:
                pending = self._side.submit(self._documents.read, bucket, mode)
            if prefetch and mode is StatsMode.DETAILED:
                gate, decision = self._gate(bucket, pending)
            try:
                census = self._list(bucket, mode, reporter, gate)
                doc = pending.result() if pending is not None else None
                if gate is not None:
                    learned = gate.finish()
            except BaseException:
                if gate is not None:
                    gate.abort()
                raise
        finally:
            # Never leave a request's side work running behind the caller.
            if pending is not None:
                wait((pending,))
            if decision is not None:
                wait((decision,))
        return census, doc, learned

    def _gate(
        self, bucket: str, pending: Future[StatsDocument | None] | None
    ) -> tuple[PrefetchGate, Future[bool]]:
        """Prefetch HEADs during the LIST when the detailed computation will HEAD every delta:
        no stored facts (no document and no index manifest), or a bypass (reads nothing)."""

        def no_stored_facts() -> bool:
            if pending is None:
                return True
            if pending.result() is not None:
                return False
            return FactIndex(self._store, bucket, self._cache_error).load_manifest(SHARD_COUNT) is None

        decision: Future[bool] = self._side.submit(no_stored_facts)
        gate = PrefetchGate(
            decision,
            lambda: HeadPrefetch(self._store, bucket, concurrency=self._head_concurrency, limit=WAVE_DELTAS),
        )
        return gate, decision

    def _list(
        self, bucket: str, mode: StatsMode, reporter: ProgressReporter, gate: PrefetchGate | None = None
    ) -> Census:
        census = Census()
        started = time.perf_counter()
        list_bucket(self._store, bucket, census, reporter, gate)
        if self._metrics is not None:
            self._metrics.stats_validation_list_seconds.labels(mode=mode.value).observe(
                time.perf_counter() - started
            )
        return census

    def _compute(
        self,
        bucket: str,
        mode: StatsMode,
        census: Census,
        outcome: CacheOutcome,
        reporter: ProgressReporter,
        *,
        learned: tuple[dict[str, Fact], int] = ({}, 0),
    ) -> StatsResult:
        started = time.perf_counter()
        use_store = outcome is not CacheOutcome.BYPASS
        index = FactIndex(self._store, bucket, self._cache_error) if use_store else None
        computation = self._computer.compute(
            bucket,
            mode,
            census,
            index=index,
            reuse_summaries=outcome is not CacheOutcome.REFRESH,
            reporter=reporter,
            learned=learned[0],
            learned_heads=learned[1],
        )
        computed_at = self._now()
        if self._metrics is not None:
            self._metrics.stats_computations.labels(mode=mode.value).inc()
            self._metrics.stats_compute_seconds.labels(mode=mode.value).observe(time.perf_counter() - started)
            self._metrics.stats_heads.labels(mode=mode.value).inc(computation.heads)
        if use_store:
            reporter.enter("storing")
            for covered in _modes_covered(mode, computation.exact):
                doc = StatsDocument.build(
                    mode=covered,
                    stats=computation.stats,
                    computed_at=computed_at,
                    object_count=census.listed,
                    compressed_size=census.stored_bytes,
                    fingerprint=census.fingerprint().value,
                    exact=computation.exact,
                    tool=self._tool,
                )
                self._documents.write(bucket, covered, doc)
        reporter.enter("done")
        return StatsResult(
            stats=computation.stats,
            cache=outcome,
            computed_at=computed_at,
            exact=computation.exact,
            age_seconds=0.0,
            heads=computation.heads,
        )

    def _from_document(self, doc: StatsDocument, outcome: CacheOutcome) -> StatsResult:
        age = max(0.0, (self._now() - doc.computed_at).total_seconds())
        return StatsResult(doc.stats.to_stats(), outcome, doc.computed_at, doc.exact, age)

    def _cache_error(self, operation: str) -> None:
        if self._metrics is not None:
            self._metrics.stats_cache_errors.labels(operation=operation).inc()

    def _count(self, mode: StatsMode, result: StatsResult) -> None:
        if self._metrics is not None:
            self._metrics.stats_requests.labels(mode=mode.value, result=result.cache.value).inc()
            self._metrics.stats_age_seconds.labels(mode=mode.value).set(result.age_seconds)
