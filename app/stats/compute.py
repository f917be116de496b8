"""Computing bucket stats from one listing, stored facts and as few HEADs as the mode allows.

Flow: `list_bucket` feeds LIST pages into a `Census` as they arrive. `StatsComputer.compute` then
takes every shard whose listing digest is unchanged (and whose stored totals satisfy the mode)
from the index manifest, and works the other shards in waves of at most `wave_deltas` deltas:
read their facts (in parallel), HEAD what the mode needs on a bounded pool, rewrite the shard
documents whose facts changed, and finally the manifest. So k changed deltas of N cost one LIST
plus about k HEADs, and a wave bounds the memory of decoded shards (~350 B per delta).

Errors: LIST/HEAD failures other than a vanished object raise typed errors (BucketNotFound,
AccessDenied, StorageUnavailable): never zero or partial stats. A delta that vanished or changed
between LIST and HEAD stays estimated and makes the result inexact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from app.domain.keys import DELTA_SUFFIX, INTERNAL_PREFIX
from app.domain.metadata import original_size
from app.errors import ObjectNotFound
from app.stats.census import Census
from app.stats.index import Fact, FactIndex, Manifest, ShardSummary
from app.stats.model import BucketStats, StatsMode, summarize
from app.stats.shard import ShardWork
from app.storage.base import ObjectStore

WAVE_DELTAS = 100_000
INDEX_IO_THREADS = 16


@dataclass(frozen=True, slots=True)
class StatsProgress:
    """A progress report. `phase` is one of listing, heads, storing, done."""

    phase: str
    objects_listed: int
    heads_done: int
    heads_planned: int
    elapsed_seconds: float


ProgressCallback = Callable[[StatsProgress], None]


class ProgressReporter:
    """Throttled progress reports (at most every `interval` seconds, plus phase changes)."""

    def __init__(self, callback: ProgressCallback | None, interval: float = 0.1) -> None:
        self._callback = callback
        self._interval = interval
        self._started = time.monotonic()
        self._last = 0.0
        self.phase = "listing"
        self.listed = 0
        self.heads_done = 0
        self.heads_planned = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def emit(self, *, force: bool = False) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if force or now - self._last >= self._interval:
            self._last = now
            self._callback(
                StatsProgress(
                    self.phase, self.listed, self.heads_done, self.heads_planned, now - self._started
                )
            )

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.emit(force=True)


def list_bucket(
    store: ObjectStore,
    bucket: str,
    census: Census,
    reporter: ProgressReporter,
    on_deltas: Callable[[list[tuple[str, str, int]]], None] | None = None,
) -> None:
    """Feed every page of the bucket's listing into `census` as it arrives; `on_deltas` gets
    each page's deltas as (key, ETag, size) (see prefetch.py)."""
    for objects in store.list_pages(bucket):  # big buckets: subtrees listed in parallel
        reporter.listed += census.add(objects)
        if on_deltas is not None:
            on_deltas(
                [
                    (o.key, o.etag, o.size)
                    for o in objects
                    if o.key.endswith(DELTA_SUFFIX) and not o.key.startswith(INTERNAL_PREFIX)
                ]
            )
        reporter.emit()
    census.finish()


@dataclass(frozen=True, slots=True)
class Computation:
    stats: BucketStats
    exact: bool
    heads: int
    unknown_deltas: int
    shards_worked: int
    shards_written: int


class StatsComputer:
    """Stateless apart from its store and limits; safe to share between threads."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        head_concurrency: int = 64,
        index_io_threads: int = INDEX_IO_THREADS,
        wave_deltas: int = WAVE_DELTAS,
    ) -> None:
        self._store = store
        self._heads = max(1, head_concurrency)
        self._io_threads = max(1, index_io_threads)
        self._wave_deltas = max(1, wave_deltas)

    def compute(
        self,
        bucket: str,
        mode: StatsMode,
        census: Census,
        *,
        index: FactIndex | None,
        reuse_summaries: bool,
        reporter: ProgressReporter,
        learned: Mapping[str, Fact] | None = None,
        learned_heads: int = 0,
    ) -> Computation:
        """Stats for the listing in `census`. `index` None = use and store nothing (bypass);
        `reuse_summaries` False = recompute every shard from its facts (refresh); `learned`:
        facts already HEADed during the LIST (`learned_heads` requests)."""
        digests = census.shard_digests()
        manifest = index.load_manifest(census.shards) if index is not None else None
        old: dict[int, ShardSummary] = dict(manifest.entries) if manifest is not None else {}
        entries: dict[int, ShardSummary] = {}
        todo: list[int] = []
        emptied: list[int] = []
        for shard in range(census.shards):
            entry = old.get(shard)
            if census.delta_counts[shard] == 0:
                entries[shard] = ShardSummary(
                    digest=digests[shard], deltas=0, known=0, known_original=0, estimated_original=0,
                    unsampled_spaces=0,
                )  # fmt: skip
                if entry is not None and entry.known:
                    emptied.append(shard)
            elif (
                reuse_summaries
                and entry is not None
                and entry.digest == digests[shard]
                and entry.satisfies(mode)
            ):
                entries[shard] = entry
            else:
                todo.append(shard)
        heads, written = learned_heads, 0
        reporter.heads_planned += learned_heads
        reporter.heads_done += learned_heads
        for wave in self._waves(todo, census.delta_counts):
            reporter.enter("heads")
            works = self._open(wave, census, digests, index, learned)
            heads += self._head(bucket, mode, works, reporter)
            for work in works:
                entries[work.shard] = work.summary()
            if index is not None:
                reporter.enter("storing")
                written += self._save(index, [(w.shard, w.facts) for w in works if w.facts_changed])
        if index is not None:
            # Shards whose deltas are all gone lose their facts. The manifest goes last; its
            # totals hold for their digests even where a shard document failed to save (those
            # facts are then simply learned again).
            written += self._save(index, [(shard, {}) for shard in emptied])
            if manifest is None or entries != old:
                index.save_manifest(Manifest(shards=census.shards, entries=entries))
        return self._total(bucket, census, entries, heads=heads, worked=len(todo), written=written)

    def _waves(self, shards: list[int], counts: list[int]) -> Iterable[list[int]]:
        wave: list[int] = []
        size = 0
        for shard in shards:
            if wave and size + counts[shard] > self._wave_deltas:
                yield wave
                wave, size = [], 0
            wave.append(shard)
            size += counts[shard]
        if wave:
            yield wave

    def _open(
        self,
        wave: list[int],
        census: Census,
        digests: tuple[str, ...],
        index: FactIndex | None,
        learned: Mapping[str, Fact] | None,
    ) -> list[ShardWork]:
        if index is None:
            stored: list[dict[str, Fact]] = [{} for _ in wave]
        else:
            with ThreadPoolExecutor(min(self._io_threads, len(wave))) as pool:
                stored = list(pool.map(index.load_shard, wave))
        works = []
        for shard, facts in zip(wave, stored, strict=True):
            works.append(
                ShardWork(
                    shard, digests[shard], census.deltas(shard), facts, census.references, learned=learned
                )
            )
            census.release(shard)
        return works

    def _head(self, bucket: str, mode: StatsMode, works: list[ShardWork], reporter: ProgressReporter) -> int:
        owners: dict[str, ShardWork] = {}
        for work in works:
            for key in work.plan(mode):
                owners[key] = work
        if not owners:
            return 0
        reporter.heads_planned += len(owners)
        reporter.emit(force=True)
        for result in self._store.head_many(bucket, owners, concurrency=self._heads):
            reporter.heads_done += 1
            reporter.emit()
            if result.error is not None:
                if isinstance(result.error, ObjectNotFound):
                    continue  # deleted since the LIST: stays estimated, result inexact
                raise result.error
            head = result.head
            if head is None:
                continue
            owner = owners[result.key]
            etag, size = owner.listed(result.key)
            if head.etag != etag or head.size != size:
                continue  # overwritten since the LIST: its facts belong to another listing
            learned = original_size(head.metadata)
            # A `.delta` without an original size is a foreign object: its bytes are the original.
            owner.learn(result.key, learned if learned is not None else head.size)
        return len(owners)

    def _save(self, index: FactIndex, dirty: list[tuple[int, dict[str, Fact]]]) -> int:
        if not dirty:
            return 0
        with ThreadPoolExecutor(min(self._io_threads, len(dirty))) as pool:
            return sum(pool.map(lambda item: index.save_shard(*item), dirty))

    @staticmethod
    def _total(
        bucket: str,
        census: Census,
        entries: dict[int, ShardSummary],
        *,
        heads: int,
        worked: int,
        written: int,
    ) -> Computation:
        original = census.direct_bytes
        unknown = 0
        for entry in entries.values():
            original += entry.known_original + entry.estimated_original
            unknown += entry.deltas - entry.known
        stats = summarize(
            bucket,
            delta_objects=census.delta_objects,
            direct_objects=census.direct_objects,
            original_bytes=original,
            stored_bytes=census.stored_bytes,
        )
        return Computation(stats, unknown == 0, heads, unknown, worked, written)
