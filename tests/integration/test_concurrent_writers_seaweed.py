"""Concurrent writers of one key on a real SeaweedFS: one stored form remains, stats count it once."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from app.engine.results import DirectReason, PutResult, StoredAs
from app.observability.metrics import Metrics
from app.services.stats import StatsService
from app.stats.model import StatsMode
from app.storage.s3 import S3ObjectStore
from tests.support.engine import make_engine, versions, write

pytestmark = pytest.mark.integration

WRITERS = 20


def test_twenty_writers_of_one_key_leave_exactly_one_form(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = make_engine(s3_store, tmp_path)
    related = versions(120_000, WRITERS + 1, seed=11)
    engine.put(bucket, "rel/seed.zip", write(tmp_path, "seed.zip", related[0]))  # the reference
    rng = random.Random(12)
    keys = [f"rel/app-{round_}.zip" for round_ in range(3)]
    for key in keys:
        # Even writers upload a close version (stored as a delta), odd ones unrelated bytes (direct).
        blobs = [related[i + 1] if i % 2 == 0 else rng.randbytes(120_000) for i in range(WRITERS)]
        paths = [write(tmp_path, f"{key.replace('/', '_')}-{i}", blob) for i, blob in enumerate(blobs)]
        start = threading.Barrier(WRITERS)

        def upload(
            i: int, key: str = key, paths: list[Path] = paths, start: threading.Barrier = start
        ) -> PutResult:
            start.wait(timeout=60)
            return engine.put(bucket, key, paths[i])

        with ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(upload, range(WRITERS)))
        # A close version is a delta unless racing deletes removed both forms and its writer
        # stored it again direct (settle.py); unrelated bytes are always direct.
        for i, r in enumerate(results):
            if i % 2:
                assert r.stored_as is StoredAs.DIRECT, (i, r)
                assert r.reason in {DirectReason.RATIO_ABOVE_MAX, DirectReason.CONCURRENT_WRITERS}, (i, r)
            else:
                assert r.stored_as is StoredAs.DELTA or r.reason is DirectReason.CONCURRENT_WRITERS, (i, r)
        stored = {o.key for o in s3_store.iter_objects(bucket, key)}
        assert len(stored & {key, key + ".delta"}) == 1, stored
        got = engine.get(bucket, key, tmp_path / "got")
        assert got.sha256 in {r.sha256 for r in results}
        assert (tmp_path / "got").read_bytes() in blobs

    listing = [o.key for o in engine.list(bucket, "rel/").objects]
    assert sorted(listing) == sorted([*keys, "rel/seed.zip"])
    service = StatsService(s3_store, metrics=Metrics(CollectorRegistry()))
    try:
        for mode in StatsMode:
            stats = service.get(bucket, mode, use_cache=False).stats
            assert stats.object_count == len(keys) + 1, mode
    finally:
        service.close()
