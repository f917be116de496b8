"""ReferenceProvider: one download per (deltaspace, sha) at a time, verified, shared, cleaned up."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from app.caches.memory import MemoryReferenceCache
from app.domain.keys import DeltaSpace
from app.engine.references import ReferenceProvider
from app.errors import IntegrityError, ObjectNotFound
from app.observability.metrics import Metrics
from app.storage.base import ObjectHead
from app.storage.memory import MemoryObjectStore

SPACE = DeltaSpace("refs", "rel")
DATA = b"reference bytes " * 4096
SHA = hashlib.sha256(DATA).hexdigest()


class GatedStore(MemoryObjectStore):
    """Counts reference downloads and holds each one until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.downloads = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self._count_lock = threading.Lock()

    def get_to_file(
        self, bucket: str, key: str, dest: Path, *, if_none_match: str | None = None
    ) -> ObjectHead | None:
        with self._count_lock:
            self.downloads += 1
        self.started.set()
        assert self.release.wait(10)
        return super().get_to_file(bucket, key, dest, if_none_match=if_none_match)


@pytest.fixture
def store() -> GatedStore:
    s = GatedStore()
    s.create_bucket(SPACE.bucket)
    s.put_bytes(SPACE.bucket, SPACE.reference_key, DATA)
    return s


def provider(
    store: GatedStore, tmp_path: Path, max_bytes: int = 1 << 20
) -> tuple[ReferenceProvider, Metrics]:
    metrics = Metrics(CollectorRegistry())
    return ReferenceProvider(
        store, MemoryReferenceCache(max_bytes), work_dir=tmp_path, metrics=metrics
    ), metrics


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def open_read(refs: ReferenceProvider) -> bytes:
    with refs.open(SPACE, SHA) as path:
        return path.read_bytes()


@pytest.mark.parametrize("max_bytes", [1 << 20, 0], ids=["cached", "cache-declines"])
def test_concurrent_misses_download_once(store: GatedStore, tmp_path: Path, max_bytes: int) -> None:
    refs, metrics = provider(store, tmp_path, max_bytes)
    store.release.clear()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(open_read, refs) for _ in range(8)]
        assert store.started.wait(10)
        store.release.set()
        results = [f.result(timeout=30) for f in futures]
    assert results == [DATA] * 8
    assert store.downloads == 1
    assert sample(metrics, "dg_reference_fetches_total") == 1
    assert sample(metrics, "dg_reference_cache_requests_total", result="miss") == 8
    assert list(tmp_path.iterdir()) == []  # the shared temporary copy is gone


def test_later_opens_hit_the_cache(store: GatedStore, tmp_path: Path) -> None:
    refs, metrics = provider(store, tmp_path)
    assert open_read(refs) == DATA
    assert open_read(refs) == DATA
    assert store.downloads == 1
    assert sample(metrics, "dg_reference_cache_requests_total", result="hit") == 1
    assert sample(metrics, "dg_reference_cache_entries") == 1
    assert sample(metrics, "dg_reference_cache_bytes") == len(DATA)
    assert refs.clear().entries_freed == 1
    assert sample(metrics, "dg_reference_cache_entries") == 0


def test_a_replaced_reference_is_refetched_once_then_refused(store: GatedStore, tmp_path: Path) -> None:
    refs, _ = provider(store, tmp_path)
    store.put_bytes(SPACE.bucket, SPACE.reference_key, b"someone else's bytes")
    with pytest.raises(IntegrityError, match="reference replaced"):
        open_read(refs)
    assert store.downloads == 2
    store.put_bytes(SPACE.bucket, SPACE.reference_key, DATA)  # a failure is not remembered
    assert open_read(refs) == DATA
    assert list(tmp_path.iterdir()) == []


def test_a_missing_reference_raises_for_every_waiter(store: GatedStore, tmp_path: Path) -> None:
    refs, _ = provider(store, tmp_path)
    store.delete(SPACE.bucket, SPACE.reference_key)
    with pytest.raises(ObjectNotFound):
        open_read(refs)
    assert list(tmp_path.iterdir()) == []


def test_seed_fills_the_cache_without_a_download(store: GatedStore, tmp_path: Path) -> None:
    refs, _ = provider(store, tmp_path)
    source = tmp_path.parent / f"{tmp_path.name}-seed.bin"
    source.write_bytes(DATA)
    refs.seed(SPACE, SHA, source)
    assert open_read(refs) == DATA
    assert store.downloads == 0
    source.unlink()
