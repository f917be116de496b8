"""Keys S3 metadata cannot carry as-is (non-ASCII, blanks, `=?`) on a real SeaweedFS: they
round-trip through upload, HEAD, GET, listing and stats."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from app.engine.results import StoredAs
from app.errors import InvalidInput
from app.observability.metrics import Metrics
from app.services.stats import StatsService
from app.stats.model import StatsMode
from app.storage.base import ObjectStore
from tests.support.engine import make_engine, versions, write

pytestmark = pytest.mark.integration

TEXT_KEYS = [
    "bad/✓-é.txt",
    "ünï/ leading blank.txt",
    'sym/%41 +?#&*:<>"~.txt',
    "日本/説明書.md",
    "emoji/🚀=?x?=.txt",
]
ARCHIVE_KEYS = ["ünï/çødé ☃/app-1.zip", "ünï/çødé ☃/app-2.zip"]


def test_unicode_keys_round_trip(s3_store: ObjectStore, bucket: str, tmp_path: Path) -> None:
    store = s3_store
    engine = make_engine(store, tmp_path)
    blobs = versions(60_000, 2, seed=9)
    bodies = {key: f"body of {key}".encode() for key in TEXT_KEYS}
    bodies |= dict(zip(ARCHIVE_KEYS, blobs, strict=True))
    results = {key: engine.put(bucket, key, write(tmp_path, "f", body)) for key, body in bodies.items()}
    assert results[ARCHIVE_KEYS[0]].stored_as is StoredAs.REFERENCE
    assert results[ARCHIVE_KEYS[1]].stored_as is StoredAs.DELTA  # decoded against a non-ASCII deltaspace

    for key, body in bodies.items():
        head = engine.head(bucket, key)
        assert (head.key, head.size, head.sha256) == (key, len(body), results[key].sha256)
        engine.get(bucket, key, tmp_path / "out")
        assert (tmp_path / "out").read_bytes() == body
    assert sorted(o.key for o in engine.list(bucket).objects) == sorted(bodies)
    detailed = {o.key: o.size for o in engine.list(bucket, detailed=True).objects}
    assert detailed == {key: len(body) for key, body in bodies.items()}

    service = StatsService(store, metrics=Metrics(CollectorRegistry()))
    try:
        stats = service.get(bucket, StatsMode.DETAILED, use_cache=False).stats
    finally:
        service.close()
    assert (stats.object_count, stats.delta_objects) == (len(bodies), 2)
    assert stats.total_size == sum(len(body) for body in bodies.values())


def test_control_characters_are_refused_before_any_write(
    s3_store: ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path)
    with pytest.raises(InvalidInput, match="control character"):
        engine.put(bucket, "tab/a\tb.txt", write(tmp_path, "f", b"body"))
    assert list(s3_store.iter_objects(bucket)) == []
