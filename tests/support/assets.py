"""Helpers for the asset-cache tests: an in-memory AssetSource fake (pure-logic unit tests only)
and a request-counting ObjectStore wrapper (integration tests: counts what the cache asks a real
S3 server)."""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from app.assets.cache import AssetCache
from app.assets.engine_source import EngineSource
from app.assets.revalidation import Freshness, RevalidationPolicy
from app.assets.source import AssetSource, RemoteVersion
from app.caches.memory import MemoryReferenceCache
from app.domain.sizes import MiB
from app.engine.codec import XDelta3Codec
from app.engine.engine import DeltaEngine
from app.engine.references import ReferenceProvider
from app.errors import AlreadyExists, ObjectNotFound, StorageUnavailable
from app.storage.base import HeadResult, ListPage, ObjectHead, ObjectStore
from app.storage.s3 import S3ObjectStore


@dataclass
class _Blob:
    data: bytes
    etag: str


class FakeSource(AssetSource):
    """Objects in a dict; every call counted; `reachable = False` simulates a dead endpoint."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], _Blob] = {}
        self.calls: collections.Counter[str] = collections.Counter()
        self.reachable = True
        self.fetch_gate: threading.Event | None = None  # when set, fetch waits for it
        self._lock = threading.Lock()
        self._etags = 0

    def put(self, bucket: str, key: str, data: bytes) -> None:
        with self._lock:
            self._etags += 1
            self.objects[(bucket, key)] = _Blob(data, f"etag-{self._etags}")

    def _blob(self, bucket: str, key: str) -> _Blob:
        if not self.reachable:
            raise StorageUnavailable("fake endpoint unreachable")
        blob = self.objects.get((bucket, key))
        if blob is None:
            raise ObjectNotFound(f"{bucket}/{key} not found")
        return blob

    def _write(self, blob: _Blob, key: str, dest: Path) -> RemoteVersion:
        dest.write_bytes(blob.data)
        return RemoteVersion(blob.etag, key, hashlib.sha256(blob.data).hexdigest(), len(blob.data))

    def fetch(self, bucket: str, key: str, dest: Path) -> RemoteVersion:
        with self._lock:
            self.calls["fetch"] += 1
        if self.fetch_gate is not None:
            assert self.fetch_gate.wait(10)
        return self._write(self._blob(bucket, key), key, dest)

    def refresh(self, bucket: str, key: str, held: RemoteVersion, dest: Path) -> RemoteVersion | None:
        with self._lock:
            self.calls["refresh"] += 1
        blob = self._blob(bucket, key)
        if blob.etag == held.validator:
            return None
        return self._write(blob, key, dest)

    def publish(self, bucket: str, key: str, path: Path, sha256: str) -> None:
        with self._lock:
            self.calls["publish"] += 1
            if (bucket, key) in self.objects:
                raise AlreadyExists(f"{bucket}/{key} exists")
            self._etags += 1
            self.objects[(bucket, key)] = _Blob(path.read_bytes(), f"etag-{self._etags}")


class CountingStore(ObjectStore):
    """Delegates to a real store and counts every request by operation name (thread-safe)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.calls: collections.Counter[str] = collections.Counter()
        self.conditional_gets = 0  # get_to_file calls with If-None-Match
        self.downloads = 0  # get_to_file calls that transferred a body
        self._lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.conditional_gets = 0
            self.downloads = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def create_bucket(self, bucket: str) -> None:
        self._count("create_bucket")
        self.inner.create_bucket(bucket)

    def head_bucket(self, bucket: str) -> None:
        self._count("head_bucket")
        self.inner.head_bucket(bucket)

    def head(self, bucket: str, key: str) -> ObjectHead:
        self._count("head")
        return self.inner.head(bucket, key)

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        continuation_token: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        self._count("list_page")
        return self.inner.list_page(
            bucket, prefix, delimiter=delimiter, continuation_token=continuation_token, max_keys=max_keys
        )

    def head_many(self, bucket: str, keys: Iterable[str], concurrency: int = 32) -> Iterator[HeadResult]:
        self._count("head_many")
        return self.inner.head_many(bucket, keys, concurrency)

    def put_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        metadata: Mapping[str, str],
        *,
        if_none_match: bool = False,
        content_type: str = "application/octet-stream",
    ) -> str:
        self._count("put_file")
        return self.inner.put_file(
            bucket, key, path, metadata, if_none_match=if_none_match, content_type=content_type
        )

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
        self._count("put_bytes")
        return self.inner.put_bytes(
            bucket, key, data, metadata, if_none_match=if_none_match, content_type=content_type
        )

    def get_to_file(
        self, bucket: str, key: str, dest: Path, *, if_none_match: str | None = None
    ) -> ObjectHead | None:
        self._count("get_to_file")
        result = self.inner.get_to_file(bucket, key, dest, if_none_match=if_none_match)
        with self._lock:
            self.conditional_gets += if_none_match is not None
            self.downloads += result is not None
        return result

    def get_bytes(self, bucket: str, key: str) -> bytes:
        self._count("get_bytes")
        return self.inner.get_bytes(bucket, key)

    def delete(self, bucket: str, key: str) -> None:
        self._count("delete")
        self.inner.delete(bucket, key)


def engine_cache(
    store: ObjectStore,
    root: Path,
    policy: RevalidationPolicy,
    *,
    now: Callable[[], datetime] | None = None,
) -> AssetCache:
    """An AssetCache reading through a real DeltaEngine (xdelta3) on `store`."""
    references = ReferenceProvider(store, MemoryReferenceCache(64 * MiB), work_dir=root / "_work")
    engine = DeltaEngine(store, XDelta3Codec(), references, work_dir=root / "_work")
    source = EngineSource(engine, store)
    if now is None:
        return AssetCache(root, source, policy)
    return AssetCache(root, source, policy, now=now)


@dataclass(frozen=True)
class FetchReport:
    outcome: str
    downloads: int
    requests: int
    sha256: str
    size: int


def fetch_in_child(
    endpoint: tuple[str, str, str],
    root: str,
    bucket: str,
    key: str,
    barrier: Barrier,
    results: Queue[FetchReport],
) -> None:
    """Run in a spawned process: build a cache of its own on the shared directory, wait for
    the sibling at the barrier, fetch, and report what this process asked S3 for."""
    url, access, secret = endpoint
    store = CountingStore(S3ObjectStore(url, "us-east-1", access, secret))
    cache = engine_cache(store, Path(root), RevalidationPolicy(Freshness.after(3600)))
    barrier.wait(timeout=60)
    asset = cache.get(bucket, key)
    digest = hashlib.sha256(asset.path.read_bytes()).hexdigest()
    results.put(
        FetchReport(asset.outcome.value, store.downloads, store.total, digest, asset.path.stat().st_size)
    )


class Clock:
    """A settable UTC clock for `now=` injection."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
