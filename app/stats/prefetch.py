"""HEADs that start while the LIST is still running, for computations that HEAD every delta.

A detailed computation on a bucket without stored facts (first run, or `use_cache=False`) will
HEAD every delta whatever the listing says, so waiting for the last LIST page wastes the whole
LIST time. `HeadPrefetch` HEADs deltas as pages arrive and hands the learned facts to the
computation, which then treats them like facts it learned itself. Before the service knows
whether the bucket has stored facts, `PrefetchGate` holds the first pages' deltas and then
either forwards them or drops them.

Bounded: at most `limit` deltas are prefetched (the first wave's worth); the rest are HEADed by
the computation's waves as usual. Errors other than a vanished object are re-raised by `finish`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future

from app.domain.metadata import original_size
from app.errors import GliderError, ObjectNotFound
from app.stats.index import Fact
from app.storage.base import ObjectStore

Record = tuple[str, str, int]
"""(key, ETag, stored size) of a listed delta."""

_END = ""  # never a key: S3 keys are non-empty


class HeadPrefetch:
    """HEADs offered deltas on the store's bounded pool, in a background thread."""

    def __init__(self, store: ObjectStore, bucket: str, *, concurrency: int, limit: int) -> None:
        self._limit = limit
        self._listed: dict[str, tuple[str, int]] = {}
        self._keys: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.facts: dict[str, Fact] = {}
        self.heads = 0
        self._error: GliderError | None = None
        self._aborted = False
        self._thread = threading.Thread(
            target=self._run, args=(store, bucket, concurrency), name="glider-stats-prefetch", daemon=True
        )
        self._thread.start()

    def offer(self, records: list[Record]) -> None:
        """Queue deltas for a HEAD (call from one thread, the one reading the LIST)."""
        for key, etag, size in records:
            if len(self._listed) >= self._limit:
                return
            self._listed[key] = (etag, size)
            self._keys.put(key)

    def _run(self, store: ObjectStore, bucket: str, concurrency: int) -> None:
        results = store.head_many(bucket, iter(self._keys.get, _END), concurrency)
        try:
            for result in results:
                if self._aborted:
                    break
                self.heads += 1
                if result.error is not None:
                    if not isinstance(result.error, ObjectNotFound) and self._error is None:
                        self._error = result.error
                    continue
                head = result.head
                etag, size = self._listed[result.key]
                if head is not None and head.etag == etag and head.size == size:
                    learned = original_size(head.metadata)
                    self.facts[result.key] = (etag, size, learned if learned is not None else head.size)
        except GliderError as err:
            self._error = err

    def abort(self) -> None:
        """Stop after the requests in flight (the LIST failed: nothing will use the facts)."""
        self._aborted = True
        self._keys.put(_END)
        self._thread.join()

    def finish(self) -> dict[str, Fact]:
        """Wait for every queued HEAD; the learned facts by key."""
        self._keys.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.facts


class PrefetchGate:
    """Holds listed deltas until `decision` says whether to prefetch, then forwards or drops.

    The decision is acted on as soon as it is known (a done-callback), not only when the next
    LIST page arrives. Thread-safe.
    """

    def __init__(self, decision: Future[bool], start: Callable[[], HeadPrefetch]) -> None:
        self._decision = decision
        self._start = start
        self._lock = threading.Lock()
        self._held: list[Record] = []
        self._prefetch: HeadPrefetch | None = None
        self._decided = False
        decision.add_done_callback(lambda _: self._decide())

    def __call__(self, records: list[Record]) -> None:
        with self._lock:
            if not self._decided:
                self._held.extend(records)
            elif self._prefetch is not None:
                self._prefetch.offer(records)

    def _decide(self) -> None:
        with self._lock:
            if self._decided:
                return
            self._decided = True
            held, self._held = self._held, []
            try:
                go = self._decision.result()
            except Exception:  # noqa: BLE001 - a failed read only means no prefetch
                go = False
            if go:
                self._prefetch = self._start()
                self._prefetch.offer(held)

    def finish(self) -> tuple[dict[str, Fact], int]:
        """(learned facts, HEADs made); waits for the decision and the HEADs."""
        self._decision.result()
        self._decide()
        if self._prefetch is None:
            return {}, 0
        facts = self._prefetch.finish()
        return facts, self._prefetch.heads

    def abort(self) -> None:
        self._decide()
        if self._prefetch is not None:
            self._prefetch.abort()
