"""ReferenceProvider: a verified local copy of a deltaspace's reference.bin, fetched once.

Lookups go to the ReferenceCache first. On a miss exactly one thread per (deltaspace, sha256)
downloads the reference at a time; concurrent callers for the same pair wait for it and share
the result. A download whose SHA-256 differs from the expected one is retried once (it may have
raced a writer), then IntegrityError "reference replaced". A verified download goes into the
cache; when the cache declines it (over budget), the temporary file itself is served until the
last concurrent user leaves its `with` block.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.caches.base import ClearResult, ReferenceCache
from app.domain.hashing import sha256_file
from app.domain.keys import DeltaSpace
from app.errors import GliderError, IntegrityError, StorageUnavailable
from app.observability.metrics import Metrics
from app.storage.base import ObjectStore

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Flight:
    """One in-progress (or finished, still in use) download shared by concurrent callers."""

    done: threading.Event = field(default_factory=threading.Event)
    path: Path | None = None
    error: GliderError | None = None
    users: int = 0


class ReferenceProvider:
    """Opens references by (deltaspace, sha256). Thread-safe; blocking.

    `wait_timeout` bounds how long a caller waits for another thread's download (seconds).
    """

    def __init__(
        self,
        store: ObjectStore,
        cache: ReferenceCache,
        *,
        work_dir: Path | None = None,
        metrics: Metrics | None = None,
        wait_timeout: float = 900.0,
    ) -> None:
        self._store = store
        self._cache = cache
        self._work_dir = work_dir
        self._metrics = metrics or Metrics()
        self._wait_timeout = wait_timeout
        self._lock = threading.Lock()
        self._flights: dict[tuple[str, str], _Flight] = {}

    @contextmanager
    def open(self, space: DeltaSpace, sha256: str) -> Iterator[Path]:
        """Yield a local file whose bytes hash to `sha256`, valid inside the `with` block.

        Raises IntegrityError when the stored reference no longer has that hash (replaced),
        NotFound when it is gone, StorageUnavailable when S3 fails.
        """
        hit = self._cache_open(space, sha256)
        if hit is not None:
            self._metrics.reference_cache_requests.labels(result="hit").inc()
            with hit as path:
                yield path
            return
        self._metrics.reference_cache_requests.labels(result="miss").inc()
        key = (space.cache_id, sha256)
        flight, leader = self._join(key)
        try:
            if leader:
                self._lead(key, flight, space, sha256)
            elif not flight.done.wait(self._wait_timeout):
                raise StorageUnavailable(
                    f"timed out after {self._wait_timeout:g}s waiting for {space.reference_key!r} download"
                )
            if flight.error is not None:
                raise type(flight.error)(str(flight.error))
            cached = self._cache_open(space, sha256)
            if cached is not None:
                with cached as path:
                    yield path
            else:
                assert flight.path is not None  # set by the leader whenever error is None
                yield flight.path
        finally:
            self._leave(key, flight)

    def open_cached(self, space: DeltaSpace, sha256: str) -> AbstractContextManager[Path] | None:
        """A cache hit for a file derived from `space`'s reference (e.g. its decompressed
        content, keyed by that content's SHA-256), or None. Counted like reference lookups."""
        hit = self._cache_open(space, sha256)
        self._metrics.reference_cache_requests.labels(result="hit" if hit is not None else "miss").inc()
        return hit

    def seed(self, space: DeltaSpace, sha256: str, source: Path) -> None:
        """Offer a file known to hash to `sha256` (a reference we just uploaded) to the cache."""
        self._cache_put(space, sha256, source)

    def clear(self) -> ClearResult:
        result = self._cache.clear()
        self._update_gauges()
        return result

    # -- internals ---------------------------------------------------------------------------

    def _join(self, key: tuple[str, str]) -> tuple[_Flight, bool]:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            flight.users += 1
            return flight, leader

    def _leave(self, key: tuple[str, str], flight: _Flight) -> None:
        with self._lock:
            flight.users -= 1
            if flight.users > 0:
                return
            if self._flights.get(key) is flight:
                del self._flights[key]
        if flight.path is not None:
            flight.path.unlink(missing_ok=True)

    def _lead(self, key: tuple[str, str], flight: _Flight, space: DeltaSpace, sha256: str) -> None:
        try:
            flight.path = self._download_verified(space, sha256)
            self._cache_put(space, sha256, flight.path)
        except GliderError as err:
            flight.error = err
            with self._lock:  # callers arriving from now on try again instead of sharing the failure
                if self._flights.get(key) is flight:
                    del self._flights[key]
            raise
        finally:
            flight.done.set()

    def _download_verified(self, space: DeltaSpace, sha256: str) -> Path:
        if self._work_dir is not None:
            self._work_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="glider-ref-", suffix=".bin", dir=self._work_dir)
        os.close(fd)
        path = Path(name)
        try:
            actual = ""
            for _attempt in range(2):
                self._metrics.reference_fetches.inc()
                self._store.get_to_file(space.bucket, space.reference_key, path)
                actual = sha256_file(path)
                if actual == sha256:
                    return path
                log.warning("reference %s/%s hash mismatch, refetching", space.bucket, space.reference_key)
            raise IntegrityError(
                f"reference replaced: {space.bucket}/{space.reference_key} has SHA-256 {actual}, "
                f"the delta needs {sha256}"
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def _cache_open(self, space: DeltaSpace, sha256: str) -> AbstractContextManager[Path] | None:
        try:
            return self._cache.open(space.cache_id, sha256)
        except IntegrityError:
            # The cache evicted a corrupt entry: a miss, fetched again from S3.
            log.warning("reference cache entry for %s failed verification; refetching", space.cache_id)
            return None

    def _cache_put(self, space: DeltaSpace, sha256: str, source: Path) -> None:
        try:
            self._cache.put(space.cache_id, sha256, source)
        except (GliderError, OSError) as err:  # best effort: serving must not fail on a cache write
            log.warning("reference cache put failed for %s: %s", space.cache_id, err)
        self._update_gauges()

    def _update_gauges(self) -> None:
        counters = self._cache.counters()
        self._metrics.reference_cache_bytes.set(counters.bytes)
        self._metrics.reference_cache_entries.set(counters.entries)
