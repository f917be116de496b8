"""Pure stats arithmetic: summaries, estimates, modes, fingerprints and the listing census."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.errors import InvalidInput
from app.stats.census import Census
from app.stats.fingerprint import SHARD_COUNT, shard_of
from app.stats.model import StatsMode, estimate_unknown, summarize
from app.storage.base import ObjectInfo

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.smoke
def test_summarize_derives_savings_and_ratio() -> None:
    s = summarize("b", delta_objects=3, direct_objects=2, original_bytes=1000, stored_bytes=250)
    assert (s.object_count, s.total_size, s.compressed_size, s.space_saved) == (5, 1000, 250, 750)
    assert s.average_compression_ratio == 0.75


def test_summarize_never_reports_negative_savings() -> None:
    s = summarize("b", delta_objects=0, direct_objects=1, original_bytes=100, stored_bytes=300)
    assert s.space_saved == 0
    assert s.average_compression_ratio == 0.0
    empty = summarize("b", delta_objects=0, direct_objects=0, original_bytes=0, stored_bytes=0)
    assert empty.average_compression_ratio == 0.0


def test_estimate_prefers_known_mean_then_reference_then_stored() -> None:
    common = {"unknown_count": 4, "unknown_stored": 40}
    assert estimate_unknown(**common, known_count=2, known_original=300, reference_size=7) == 600
    assert estimate_unknown(**common, known_count=0, known_original=0, reference_size=1000) == 4000
    assert estimate_unknown(**common, known_count=0, known_original=0, reference_size=None) == 40
    assert (
        estimate_unknown(unknown_count=0, unknown_stored=0, known_count=0, known_original=0, reference_size=5)
        == 0
    )


def test_mode_parse() -> None:
    assert StatsMode.parse("Detailed") is StatsMode.DETAILED
    with pytest.raises(InvalidInput, match="unknown stats mode"):
        StatsMode.parse("full")


def _info(key: str, etag: str = "e", size: int = 10, age: int = 0) -> ObjectInfo:
    return ObjectInfo(key, size, etag, T0 + timedelta(seconds=age))


def _census(objects: list[ObjectInfo]) -> Census:
    census = Census()
    census.add(objects)
    return census


def test_census_classifies_and_excludes_internal_objects() -> None:
    census = _census(
        [
            _info(".deltaglider/stats_quick.json", size=999),
            _info(".deltaglider/index/shard-00.json", size=999),
            _info("a/reference.bin", size=100),
            _info("a/x.zip.delta", size=5),
            _info("a/readme.txt", size=7),
            _info("reference.bin", size=50),
        ]
    )
    assert census.listed == 4
    assert census.stored_bytes == 162
    assert (census.delta_objects, census.direct_objects, census.direct_bytes) == (1, 1, 7)
    assert census.references == {"a": 100, "": 50}


def test_fingerprint_ignores_internal_objects_and_is_deterministic() -> None:
    base = [_info("a/x.zip.delta"), _info("b/y.txt")]
    with_cache = [_info(".deltaglider/stats_quick.json", etag="zz"), *base]
    assert _census(base).fingerprint() == _census(with_cache).fingerprint()


@pytest.mark.parametrize(
    "changed",
    [
        [_info("a/x.zip.delta", etag="other"), _info("b/y.txt")],  # same-size overwrite: new ETag
        [_info("a/x.zip.delta", age=5), _info("b/y.txt")],  # only LastModified moved
        [_info("a/x.zip.delta")],  # a delete
        [_info("a/x.zip.delta"), _info("b/y.txt"), _info("c/z.txt")],  # an add
        [_info("a/x.zip.delta", size=11), _info("b/y.txt")],  # a size change
    ],
)
def test_fingerprint_detects_every_change(changed: list[ObjectInfo]) -> None:
    before = _census([_info("a/x.zip.delta"), _info("b/y.txt")]).fingerprint()
    assert _census(changed).fingerprint().value != before.value


def test_census_keeps_delta_records_per_shard_even_with_odd_keys() -> None:
    keys = ["a/line\nbreak.zip.delta", "a/sp ace&amp.zip.delta", "a/ünï.zip.delta"]
    census = _census([_info(k, etag=f"t{i}", size=i) for i, k in enumerate(keys)])
    shard = shard_of("a")
    assert list(census.deltas(shard)) == [(k, f"t{i}", i) for i, k in enumerate(keys)]
    assert census.delta_counts[shard] == 3
    census.release(shard)
    assert list(census.deltas(shard)) == []


def test_shards_are_stable_and_spread() -> None:
    assert shard_of("releases/app") == shard_of("releases/app")
    spread = {shard_of(f"proj/{i:03d}") for i in range(400)}
    assert len(spread) > SHARD_COUNT * 0.9
