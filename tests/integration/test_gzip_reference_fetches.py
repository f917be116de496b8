"""A gzip delta upload fetches the deltaspace's reference.bin at most once, counted on real SeaweedFS.

The writer decompresses the reference (one GET on a cold cache) and then re-checks that it is
still there; that re-check used to open the compressed reference again, a second GET whenever
the cache had not kept it (a one-shot CLI process's memory cache, over budget or evicted by the
reference's own content). GETs are counted by the S3 store's own per-request counters.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.caches.memory import MemoryReferenceCache
from app.engine.engine import DeltaEngine
from app.engine.results import StoredAs
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint, unique_bucket_name
from tests.integration.test_engine_listing_delete import DeletesReferenceAfterDelta
from tests.integration.test_gzip_deltas import GZIP_ON, roundtrip
from tests.support.engine import make_engine, write
from tests.support.gzips import tar_versions, zlib_gzip

pytestmark = pytest.mark.integration

TARS = tar_versions(2)
BLOBS = [zlib_gzip(tar, level=6) for tar in TARS]
BUDGETS = {  # memory cache budget of the uploading process
    "room-for-both": 256 << 20,
    "content-evicts-reference": len(BLOBS[0]) + len(TARS[0]) - 1,
    "no-room": 1000,
}


def _engine(store: S3ObjectStore, work: Path, budget: str) -> DeltaEngine:
    cache = MemoryReferenceCache(max_bytes=BUDGETS[budget])
    return make_engine(store, work, cache=cache, gzip=GZIP_ON)


def _gets_of_second_upload(engine: DeltaEngine, store: S3ObjectStore, bucket: str, tmp_path: Path) -> int:
    before = store.counts["get"]
    result = engine.put(bucket, "rel/pkg-1.tar.gz", write(tmp_path, "up1.tar.gz", BLOBS[1]))
    assert result.stored_as is StoredAs.DELTA
    return store.counts["get"] - before


@pytest.mark.parametrize("budget", sorted(BUDGETS))
def test_a_one_shot_process_fetches_the_reference_once(
    budget: str, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    make_engine(s3_store, tmp_path / "w0", gzip=GZIP_ON).put(
        bucket, "rel/pkg-0.tar.gz", write(tmp_path, "up0.tar.gz", BLOBS[0])
    )
    fresh = _engine(s3_store, tmp_path / "w1", budget)  # a new process: nothing cached
    assert _gets_of_second_upload(fresh, s3_store, bucket, tmp_path) == 1
    roundtrip(fresh, bucket, "rel/pkg-1.tar.gz", tmp_path, BLOBS[1])


def test_a_cached_content_needs_no_fetch_of_its_reference(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """The process that wrote the reference keeps its content, which evicted reference.bin."""
    engine = _engine(s3_store, tmp_path / "w", "content-evicts-reference")
    engine.put(bucket, "rel/pkg-0.tar.gz", write(tmp_path, "up0.tar.gz", BLOBS[0]))
    assert _gets_of_second_upload(engine, s3_store, bucket, tmp_path) == 0


def test_a_gzip_reference_deleted_under_an_upload_is_restored(seaweed: S3Endpoint, tmp_path: Path) -> None:
    """The lazily opened local copy still restores a reference a concurrent delete removed."""
    store = DeletesReferenceAfterDelta(
        seaweed.endpoint_url, seaweed.region, seaweed.access_key, seaweed.secret_key
    )
    bucket = unique_bucket_name()
    store.create_bucket(bucket)
    engine = _engine(store, tmp_path / "w", "room-for-both")
    engine.put(bucket, "rel/pkg-0.tar.gz", write(tmp_path, "up0.tar.gz", BLOBS[0]))
    store.armed = True
    assert _gets_of_second_upload(engine, store, bucket, tmp_path) == 0
    assert not store.armed  # the reference was deleted after the delta landed
    assert store.head(bucket, "rel/reference.bin").size == len(BLOBS[0])
    fresh = _engine(store, tmp_path / "fresh", "room-for-both")
    for n in range(2):
        roundtrip(fresh, bucket, f"rel/pkg-{n}.tar.gz", tmp_path, BLOBS[n])
    store.close()
