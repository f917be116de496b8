"""StatsComputer on the in-memory store: HEAD counts per mode, incremental recompute, errors."""

from __future__ import annotations

import pytest

from app.errors import AccessDenied, GliderError
from app.stats.census import Census
from app.stats.compute import ProgressReporter, StatsComputer, list_bucket
from app.stats.fingerprint import shard_of
from app.stats.index import FactIndex
from app.stats.model import StatsMode
from app.storage.base import ObjectHead
from app.storage.memory import MemoryObjectStore
from tests.support.stats import WireBucket, figures

BUCKET = "stats-unit"


@pytest.fixture
def wire() -> WireBucket:
    store = MemoryObjectStore()
    store.create_bucket(BUCKET)
    wire = WireBucket(store, BUCKET)
    for space in range(5):
        wire.reference(f"rel/{space}", 1000 + space)
        for n in range(8):
            wire.delta(f"rel/{space}/app-{n}.zip", stored=10 + n, original=1000 + 10 * n)
    wire.direct("rel/notes.txt", 33)
    return wire


def _store(wire: WireBucket) -> MemoryObjectStore:
    assert isinstance(wire.store, MemoryObjectStore)
    return wire.store


def _run(wire: WireBucket, mode: StatsMode, *, index: bool = True, reuse: bool = True):  # type: ignore[no-untyped-def]
    store = _store(wire)
    census = Census()
    reporter = ProgressReporter(None)
    list_bucket(store, BUCKET, census, reporter)
    errors: list[str] = []
    fact_index = FactIndex(store, BUCKET, errors.append) if index else None
    before = store.counts["head"]
    result = StatsComputer(store, head_concurrency=4).compute(
        BUCKET, mode, census, index=fact_index, reuse_summaries=reuse, reporter=reporter
    )
    assert errors == []
    return result, store.counts["head"] - before


def test_detailed_is_exact_and_heads_every_delta_once(wire: WireBucket) -> None:
    result, heads = _run(wire, StatsMode.DETAILED)
    assert heads == result.heads == 40
    assert result.exact
    assert figures(result.stats) == wire.expected()
    again, heads = _run(wire, StatsMode.DETAILED)
    assert heads == 0
    assert figures(again.stats) == wire.expected()


def test_k_changed_of_n_costs_k_heads(wire: WireBucket) -> None:
    _run(wire, StatsMode.DETAILED)
    wire.delta("rel/1/app-3.zip", stored=10 + 3, original=777)  # same-size overwrite, new content
    wire.delta("rel/4/app-new.zip", stored=12, original=4242)  # an add
    wire.delete("rel/2/app-0.zip.delta")  # a delete
    result, heads = _run(wire, StatsMode.DETAILED)
    assert heads == 2
    assert result.exact
    assert figures(result.stats) == wire.expected()


def test_sampled_heads_one_delta_per_deltaspace_and_extrapolates(wire: WireBucket) -> None:
    result, heads = _run(wire, StatsMode.SAMPLED)
    assert heads == 5
    assert not result.exact
    # Each deltaspace's unknown deltas take the sampled original: close, not equal.
    expected = wire.expected()
    assert result.stats.compressed_size == expected["compressed_size"]
    assert result.stats.object_count == expected["object_count"]
    assert abs(result.stats.total_size - expected["total_size"]) < expected["total_size"] * 0.05
    # Nothing more to sample while the bucket is unchanged.
    assert _run(wire, StatsMode.SAMPLED)[1] == 0


def test_quick_never_heads_and_is_exact_for_known_objects(wire: WireBucket) -> None:
    cold, heads = _run(wire, StatsMode.QUICK)
    assert heads == 0
    assert not cold.exact
    # Without facts, a delta is estimated from its deltaspace's reference size.
    assert cold.stats.total_size == 33 + sum(8 * (1000 + s) for s in range(5))
    _run(wire, StatsMode.DETAILED)
    warm, heads = _run(wire, StatsMode.QUICK)
    assert heads == 0
    assert warm.exact
    assert figures(warm.stats) == wire.expected()
    wire.delta("rel/0/app-9.zip", stored=9, original=900)
    changed, heads = _run(wire, StatsMode.QUICK)
    assert heads == 0
    assert not changed.exact
    assert changed.unknown_deltas == 1


def test_bypass_uses_and_stores_nothing(wire: WireBucket) -> None:
    _run(wire, StatsMode.DETAILED)
    puts = _store(wire).counts["put_bytes"]
    result, heads = _run(wire, StatsMode.DETAILED, index=False)
    assert heads == 40
    assert _store(wire).counts["put_bytes"] == puts
    assert figures(result.stats) == wire.expected()


def test_refresh_recomputes_every_shard_from_facts(wire: WireBucket) -> None:
    _run(wire, StatsMode.DETAILED)
    gets = _store(wire).counts["get_bytes"]
    result, heads = _run(wire, StatsMode.DETAILED, reuse=False)
    assert heads == 0  # facts keyed by ETag + size cannot be stale
    assert result.shards_worked == len({shard_of(f"rel/{s}") for s in range(5)})
    assert _store(wire).counts["get_bytes"] > gets
    assert figures(result.stats) == wire.expected()


def test_object_vanishing_between_list_and_head_makes_result_inexact(wire: WireBucket) -> None:
    store = _store(wire)
    census = Census()
    reporter = ProgressReporter(None)
    list_bucket(store, BUCKET, census, reporter)
    store.delete(BUCKET, "rel/3/app-2.zip.delta")
    result = StatsComputer(store).compute(
        BUCKET, StatsMode.DETAILED, census, index=None, reuse_summaries=True, reporter=reporter
    )
    assert not result.exact
    assert result.unknown_deltas == 1


class _DenyingHeads(MemoryObjectStore):
    def head(self, bucket: str, key: str) -> ObjectHead:
        if key.endswith("app-5.zip.delta"):
            raise AccessDenied("denied")
        return super().head(bucket, key)


def test_head_errors_other_than_not_found_propagate() -> None:
    store = _DenyingHeads()
    store.create_bucket(BUCKET)
    wire = WireBucket(store, BUCKET)
    wire.delta("a/app-5.zip", stored=5, original=50)
    census = Census()
    reporter = ProgressReporter(None)
    list_bucket(store, BUCKET, census, reporter)
    with pytest.raises(GliderError):
        StatsComputer(store).compute(
            BUCKET, StatsMode.DETAILED, census, index=None, reuse_summaries=True, reporter=reporter
        )


def test_waves_bound_the_work_and_give_the_same_figures(wire: WireBucket) -> None:
    store = _store(wire)
    census = Census()
    reporter = ProgressReporter(None)
    list_bucket(store, BUCKET, census, reporter)
    result = StatsComputer(store, wave_deltas=3).compute(
        BUCKET, StatsMode.DETAILED, census, index=None, reuse_summaries=True, reporter=reporter
    )
    assert result.exact
    assert figures(result.stats) == wire.expected()


def test_progress_reports_listing_and_heads(wire: WireBucket) -> None:
    store = _store(wire)
    seen = []
    census = Census()
    reporter = ProgressReporter(seen.append, interval=0.0)
    list_bucket(store, BUCKET, census, reporter)
    StatsComputer(store).compute(
        BUCKET, StatsMode.DETAILED, census, index=None, reuse_summaries=True, reporter=reporter
    )
    assert seen[0].phase == "listing"
    assert seen[0].objects_listed == 46
    last_heads = [p for p in seen if p.phase == "heads"][-1]
    assert (last_heads.heads_done, last_heads.heads_planned) == (40, 40)
    assert all(p.elapsed_seconds >= 0 for p in seen)


def test_facts_of_deleted_deltas_are_pruned_from_the_index(wire: WireBucket) -> None:
    _run(wire, StatsMode.DETAILED)
    for n in range(8):
        wire.delete(f"rel/2/app-{n}.zip.delta")
    result, heads = _run(wire, StatsMode.QUICK)
    assert heads == 0
    assert result.exact
    assert figures(result.stats) == wire.expected()
    facts = FactIndex(_store(wire), BUCKET, lambda op: None).load_shard(shard_of("rel/2"))
    assert not [key for key in facts if key.startswith("rel/2/")]


def test_a_key_stored_in_both_forms_counts_once(wire: WireBucket) -> None:
    """A writer caught between `K.delta` and `K` leaves both listed: one object, not two."""
    before = wire.expected()
    twin_delta = "rel/2/app-3.zip.delta"
    stored_delta, original_delta, _ = wire.objects[twin_delta]
    wire.direct("rel/2/app-3.zip", 1234)  # the direct twin, written after the delta
    wire.direct("rel/2/app-3.zip-notes", 5)  # a name that merely starts like it: not a twin
    for mode in StatsMode:
        result, _ = _run(wire, mode)
        got = figures(result.stats)
        assert got["object_count"] == before["object_count"] + 1, mode
        assert (got["delta_objects"], got["direct_objects"]) == (
            before["delta_objects"] - 1,
            before["direct_objects"] + 2,
        )
        assert got["compressed_size"] == before["compressed_size"] + 1234 + 5  # both are in the bucket
    detailed, _ = _run(wire, StatsMode.DETAILED)
    assert detailed.exact
    assert detailed.stats.total_size == before["total_size"] - original_delta + 1234 + 5
    assert stored_delta > 0
