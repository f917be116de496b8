"""StatsService on the in-memory store: cache outcomes, document handling, errors, metrics."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from app.errors import AccessDenied, BucketNotFound, InvalidInput
from app.observability.metrics import Metrics
from app.services.stats import CacheOutcome, StatsService
from app.stats.document import decode_document, document_key
from app.stats.model import StatsMode
from app.storage.memory import MemoryObjectStore
from tests.support.stats import WireBucket, figures

BUCKET = "stats-svc"


class _ReadOnlyCache(MemoryObjectStore):
    """Writes under .deltaglider/ are denied, like a bucket policy would."""

    def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        metadata: Mapping[str, str] | None = None,
        *,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str:
        if key.startswith(".deltaglider/"):
            raise AccessDenied("write denied")
        return super().put_bytes(
            bucket, key, data, metadata, if_none_match=if_none_match, content_type=content_type
        )


def _wire(store: MemoryObjectStore | None = None) -> WireBucket:
    store = store or MemoryObjectStore()
    store.create_bucket(BUCKET)
    wire = WireBucket(store, BUCKET)
    for space in ("a", "b", "c/d"):
        wire.reference(space, 500)
        for n in range(4):
            wire.delta(f"{space}/v{n}.tar.gz", stored=20 + n, original=500 + n)
    wire.direct("top.txt", 40)
    return wire


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return found or 0.0


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def test_miss_then_hit_then_stale_after_each_kind_of_change(metrics: Metrics) -> None:
    wire = _wire()
    service = StatsService(wire.store, metrics=metrics)
    first = service.get(BUCKET, StatsMode.DETAILED)
    assert first.cache is CacheOutcome.MISS
    assert first.exact
    assert first.heads == 12
    assert figures(first.stats) == wire.expected()
    hit = service.get(BUCKET, StatsMode.DETAILED)
    assert hit.cache is CacheOutcome.HIT
    assert hit.stats == first.stats
    assert hit.heads == 0
    for change in (
        lambda: wire.delta("a/v9.tar.gz", stored=7, original=700),  # add
        lambda: wire.delete("b/v1.tar.gz.delta"),  # delete
        lambda: wire.delta("a/v0.tar.gz", stored=20, original=999),  # same-size overwrite
    ):
        change()
        stale = service.get(BUCKET, StatsMode.DETAILED)
        assert stale.cache is CacheOutcome.STALE
        assert stale.heads <= 1
        assert figures(stale.stats) == wire.expected()
        assert service.get(BUCKET, StatsMode.DETAILED).cache is CacheOutcome.HIT
    assert _value(metrics, "dg_stats_requests_total", mode="detailed", result="hit") == 4
    assert _value(metrics, "dg_stats_requests_total", mode="detailed", result="stale") == 3
    assert _value(metrics, "dg_stats_computations_total", mode="detailed") == 4
    assert _value(metrics, "dg_stats_head_requests_total", mode="detailed") == 14


def test_document_has_the_wire_shape_and_excludes_internal_objects() -> None:
    wire = _wire()
    StatsService(wire.store).get(BUCKET, StatsMode.SAMPLED)
    raw = json.loads(wire.store.get_bytes(BUCKET, ".deltaglider/stats_sampled.json"))
    assert raw["version"] == "1.0"
    assert raw["mode"] == "sampled"
    assert raw["computed_at"].endswith("Z")
    assert set(raw["stats"]) == {
        "bucket", "object_count", "total_size", "compressed_size", "space_saved",
        "average_compression_ratio", "delta_objects", "direct_objects",
    }  # fmt: skip
    # references are listed (and stored bytes) but the cache's own files are not
    assert raw["validation"]["object_count"] == 3 + 12 + 1
    assert raw["validation"]["compressed_size"] == wire.expected()["compressed_size"]
    assert raw["validation"]["fingerprint"].startswith("v1:")
    assert raw["stats"]["object_count"] == 13


def test_a_computation_also_serves_cheaper_modes() -> None:
    wire = _wire()
    service = StatsService(wire.store)
    service.get(BUCKET, StatsMode.DETAILED)
    quick = service.get(BUCKET, StatsMode.QUICK)
    assert quick.cache is CacheOutcome.HIT
    assert quick.exact
    assert figures(quick.stats) == wire.expected()


def test_refresh_recomputes_and_bypass_touches_nothing() -> None:
    wire = _wire()
    store = wire.store
    assert isinstance(store, MemoryObjectStore)
    service = StatsService(store)
    service.get(BUCKET, StatsMode.QUICK)
    refreshed = service.get(BUCKET, StatsMode.QUICK, refresh=True)
    assert refreshed.cache is CacheOutcome.REFRESH
    puts, gets = store.counts["put_bytes"], store.counts["get_bytes"]
    bypass = service.get(BUCKET, StatsMode.DETAILED, use_cache=False)
    assert bypass.cache is CacheOutcome.BYPASS
    assert bypass.heads == 12
    assert (store.counts["put_bytes"], store.counts["get_bytes"]) == (puts, gets)
    assert figures(bypass.stats) == wire.expected()


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        json.dumps({"version": "0.9", "mode": "quick"}).encode(),
        b'{"version": "1.0", "mode": "quick", "computed_at": "x", "validation": {}, "stats": {}}',
    ],
)
def test_corrupt_or_foreign_document_is_a_counted_miss_and_is_overwritten(
    content: bytes, metrics: Metrics
) -> None:
    wire = _wire()
    wire.store.put_bytes(BUCKET, document_key(StatsMode.QUICK), content)
    service = StatsService(wire.store, metrics=metrics)
    result = service.get(BUCKET, StatsMode.QUICK)
    assert result.cache is CacheOutcome.MISS
    assert _value(metrics, "dg_stats_cache_errors_total", operation="parse") == 1
    doc = decode_document(wire.store.get_bytes(BUCKET, document_key(StatsMode.QUICK)), StatsMode.QUICK)
    assert doc.stats.to_stats() == result.stats
    assert service.get(BUCKET, StatsMode.QUICK).cache is CacheOutcome.HIT


def test_document_without_fingerprint_never_validates() -> None:
    wire = _wire()
    service = StatsService(wire.store)
    service.get(BUCKET, StatsMode.QUICK)
    key = document_key(StatsMode.QUICK)
    raw = json.loads(wire.store.get_bytes(BUCKET, key))
    del raw["validation"]["fingerprint"]  # what a count + size validator (DeltaGlider) writes
    wire.store.put_bytes(BUCKET, key, json.dumps(raw).encode())
    assert service.get(BUCKET, StatsMode.QUICK).cache is CacheOutcome.STALE


def test_write_denied_still_returns_stats_and_counts_the_failure(metrics: Metrics) -> None:
    wire = _wire(_ReadOnlyCache())
    service = StatsService(wire.store, metrics=metrics)
    for _ in range(2):
        result = service.get(BUCKET, StatsMode.DETAILED)
        assert result.cache is CacheOutcome.MISS
        assert figures(result.stats) == wire.expected()
    assert _value(metrics, "dg_stats_cache_errors_total", operation="write") == 6  # 3 modes, twice
    assert _value(metrics, "dg_stats_cache_errors_total", operation="index_write") > 0


def test_missing_bucket_and_bad_name_are_typed_errors() -> None:
    service = StatsService(MemoryObjectStore())
    with pytest.raises(BucketNotFound):
        service.get("no-such-bucket", StatsMode.QUICK)
    with pytest.raises(InvalidInput):
        service.get("Bad_Name", StatsMode.QUICK)


def test_age_and_computed_at_come_from_the_document() -> None:
    wire = _wire()
    clock = [datetime(2025, 5, 1, 12, 0, tzinfo=UTC)]
    service = StatsService(wire.store, now=lambda: clock[0])
    service.get(BUCKET, StatsMode.QUICK)
    clock[0] += timedelta(minutes=10)
    hit = service.get(BUCKET, StatsMode.QUICK)
    assert hit.computed_at == datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    assert hit.age_seconds == pytest.approx(600)


def test_a_refresh_computes_and_stores_the_document_later_requests_read() -> None:
    wire = _wire()
    service = StatsService(wire.store)
    key = document_key(StatsMode.SAMPLED)
    assert key not in {obj.key for obj in wire.store.iter_objects(BUCKET, ".deltaglider/")}
    computed = service.get(BUCKET, StatsMode.SAMPLED, refresh=True)
    assert computed.cache is CacheOutcome.REFRESH
    stored = decode_document(wire.store.get_bytes(BUCKET, key), StatsMode.SAMPLED)
    assert stored.stats.to_stats() == computed.stats
    served = service.get(BUCKET, StatsMode.SAMPLED)
    assert served.cache is CacheOutcome.HIT
    assert served.stats == computed.stats
