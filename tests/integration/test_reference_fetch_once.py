"""Ten uploads into one deltaspace fetch reference.bin from S3 at most once, per cache backend.

Runs the real engine (xdelta3) against the session's real SeaweedFS, with encryption on over each
backend. GETs are counted on the wire: a botocore `before-send` hook on the store's own client sees
every HTTP request the engine sends to SeaweedFS, so nothing in the path is replaced by a fake.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from app.caches.base import ReferenceCache
from app.caches.encrypted import EncryptedReferenceCache
from app.caches.filesystem import FilesystemReferenceCache
from app.caches.memory import MemoryReferenceCache
from app.engine.codec import XDelta3Codec
from app.engine.engine import DeltaEngine
from app.engine.references import ReferenceProvider
from app.engine.results import StoredAs
from app.observability.metrics import Metrics
from app.storage.base import ObjectHead
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint, unique_bucket_name

pytestmark = pytest.mark.integration

PREFIX = "releases"
SIZE = 2 * 1024 * 1024
KEY = os.urandom(32)


@dataclass
class GetCounter:
    """Counts GetObject requests for reference.bin made through a store."""

    reference_gets: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, key: str) -> None:
        if key.endswith("reference.bin"):
            with self.lock:
                self.reference_gets += 1


class CountingStore(S3ObjectStore):
    """The real S3 store, telling `counter` of every download before it leaves for the server."""

    counter: GetCounter

    def get_to_file(
        self, bucket: str, key: str, dest: Path, *, if_none_match: str | None = None
    ) -> ObjectHead | None:
        self.counter.saw(key)
        return super().get_to_file(bucket, key, dest, if_none_match=if_none_match)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, bytes]]:
    """Eleven versions of a 2 MiB artifact, each differing from the first in a few places."""
    folder = tmp_path_factory.mktemp("artifacts")
    rng = random.Random(4)
    base = bytearray(rng.randbytes(SIZE))
    out = []
    for version in range(11):
        data = bytearray(base)
        for _ in range(3):
            at = rng.randrange(0, SIZE - 4096)
            data[at : at + 4096] = rng.randbytes(4096)
        path = folder / f"app-{version}.zip"
        path.write_bytes(bytes(data))
        out.append((path, bytes(data)))
    return out


@pytest.fixture
def store(seaweed: S3Endpoint) -> Iterator[tuple[S3ObjectStore, GetCounter]]:
    s3 = CountingStore(seaweed.endpoint_url, seaweed.region, seaweed.access_key, seaweed.secret_key)
    counter = GetCounter()
    s3.counter = counter
    yield s3, counter
    s3.close()


@pytest.fixture(params=["memory", "filesystem"])
def make_cache(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], ReferenceCache]:
    """A fresh encrypted cache, as a new process would build it (same directory, same key)."""

    def make() -> ReferenceCache:
        inner: ReferenceCache
        if request.param == "memory":
            inner = MemoryReferenceCache(64 * 1024 * 1024)
        else:
            inner = FilesystemReferenceCache(tmp_path / "cache", 64 * 1024 * 1024)
        return EncryptedReferenceCache(inner, KEY, work_dir=tmp_path)

    return make


def engine_for(s3: S3ObjectStore, cache: ReferenceCache, tmp_path: Path) -> tuple[DeltaEngine, Metrics]:
    metrics = Metrics(CollectorRegistry())
    references = ReferenceProvider(s3, cache, work_dir=tmp_path, metrics=metrics)
    return DeltaEngine(s3, XDelta3Codec(), references, work_dir=tmp_path, metrics=metrics), metrics


def cache_requests(metrics: Metrics, result: str) -> float:
    value = metrics.registry.get_sample_value("dg_reference_cache_requests_total", {"result": result})
    return value or 0.0


def upload_all(
    engine: DeltaEngine, bucket: str, files: list[tuple[Path, bytes]], tag: str, start: int
) -> None:
    for index, (path, data) in enumerate(files, start):
        result = engine.put(bucket, f"{PREFIX}/{tag}-{index}.zip", path)
        assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_ten_uploads_one_process(
    store: tuple[S3ObjectStore, GetCounter],
    make_cache: Callable[[], ReferenceCache],
    artifacts: list[tuple[Path, bytes]],
    tmp_path: Path,
) -> None:
    s3, counter = store
    bucket = unique_bucket_name("fetch")
    s3.create_bucket(bucket)
    engine, metrics = engine_for(s3, make_cache(), tmp_path)
    first = engine.put(bucket, f"{PREFIX}/app-0.zip", artifacts[0][0])
    assert first.stored_as == StoredAs.REFERENCE
    upload_all(engine, bucket, artifacts[1:10], "app", 1)
    # The process that created reference.bin put it into the cache: no GET at all (<= 1 required).
    assert counter.reference_gets == 0
    assert (cache_requests(metrics, "hit"), cache_requests(metrics, "miss")) == (9, 0)

    # Every stored delta rebuilds to its original bytes (through the same cache).
    for index, (_, data) in enumerate(artifacts[:10]):
        dest = tmp_path / f"out-{index}"
        engine.get(bucket, f"{PREFIX}/app-{index}.zip", dest)
        assert dest.read_bytes() == data
    assert counter.reference_gets == 0


def seeded_by_another_process(
    s3: S3ObjectStore, counter: GetCounter, tag: str, artifacts: list[tuple[Path, bytes]], tmp_path: Path
) -> str:
    """A new bucket whose deltaspace reference was made by an engine with no cache, GET count reset."""
    bucket = unique_bucket_name(tag)
    s3.create_bucket(bucket)
    seeding, _ = engine_for(s3, MemoryReferenceCache(0), tmp_path)
    assert seeding.put(bucket, f"{PREFIX}/app-0.zip", artifacts[0][0]).stored_as == StoredAs.REFERENCE
    counter.reference_gets = 0
    return bucket


def test_a_cold_process_fetches_once_then_hits(
    store: tuple[S3ObjectStore, GetCounter],
    make_cache: Callable[[], ReferenceCache],
    artifacts: list[tuple[Path, bytes]],
    tmp_path: Path,
) -> None:
    s3, counter = store
    bucket = seeded_by_another_process(s3, counter, "cold", artifacts, tmp_path)

    cache = make_cache()
    engine, metrics = engine_for(s3, cache, tmp_path)
    upload_all(engine, bucket, artifacts[1:11], "cold", 1)
    assert counter.reference_gets == 1
    assert cache_requests(metrics, "miss") == 1
    assert cache_requests(metrics, "hit") == 9
    assert cache.counters().entries == 1
    assert list(tmp_path.glob("glider-*")) == []  # no decrypted or staging file left behind


def test_concurrent_uploads_share_one_fetch(
    store: tuple[S3ObjectStore, GetCounter],
    make_cache: Callable[[], ReferenceCache],
    artifacts: list[tuple[Path, bytes]],
    tmp_path: Path,
) -> None:
    s3, counter = store
    bucket = seeded_by_another_process(s3, counter, "race", artifacts, tmp_path)

    engine, _ = engine_for(s3, make_cache(), tmp_path)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(
            pool.map(lambda i: engine.put(bucket, f"{PREFIX}/race-{i}.zip", artifacts[i][0]), range(1, 11))
        )
    assert {r.stored_as for r in results} == {StoredAs.DELTA}
    assert counter.reference_gets == 1


def test_persistent_key_survives_a_restart_without_fetching(
    store: tuple[S3ObjectStore, GetCounter],
    make_cache: Callable[[], ReferenceCache],
    artifacts: list[tuple[Path, bytes]],
    tmp_path: Path,
) -> None:
    s3, counter = store
    bucket = unique_bucket_name("restart")
    s3.create_bucket(bucket)
    first, _ = engine_for(s3, make_cache(), tmp_path)
    first.put(bucket, f"{PREFIX}/app-0.zip", artifacts[0][0])
    first.put(bucket, f"{PREFIX}/app-1.zip", artifacts[1][0])
    before = counter.reference_gets

    restarted, _ = engine_for(s3, make_cache(), tmp_path)
    upload_all(restarted, bucket, artifacts[2:6], "again", 2)
    is_disk = any((tmp_path / "cache").glob("v1"))
    # On disk the encrypted entry outlives the process; in memory the new process fetches once.
    assert counter.reference_gets - before == (0 if is_disk else 1)


def test_clear_cache_during_uploads_and_downloads(
    store: tuple[S3ObjectStore, GetCounter],
    make_cache: Callable[[], ReferenceCache],
    artifacts: list[tuple[Path, bytes]],
    tmp_path: Path,
) -> None:
    s3, _ = store
    bucket = unique_bucket_name("clear")
    s3.create_bucket(bucket)
    cache = make_cache()
    engine, _ = engine_for(s3, cache, tmp_path)
    engine.put(bucket, f"{PREFIX}/app-0.zip", artifacts[0][0])
    stop = threading.Event()
    cleared: list[int] = []

    def clearer() -> None:
        while not stop.is_set():
            cleared.append(engine.clear_cache().entries_freed)
            stop.wait(0.01)

    def traffic(index: int) -> bool:
        path, data = artifacts[index]
        key = f"{PREFIX}/busy-{index}.zip"
        engine.put(bucket, key, path)
        dest = tmp_path / f"busy-{index}.out"
        engine.get(bucket, key, dest)
        return dest.read_bytes() == data

    background = threading.Thread(target=clearer)
    background.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(traffic, range(1, 11)))
    finally:
        stop.set()
        background.join(timeout=30)
    assert outcomes == [True] * 10
    assert sum(cleared) > 0  # it really dropped entries while traffic ran
    engine.clear_cache()
    assert (cache.counters().entries, cache.counters().bytes) == (0, 0)
    if (tmp_path / "cache").exists():
        assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
    assert list(tmp_path.glob("glider-*")) == []
