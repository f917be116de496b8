"""The asset cache on real SeaweedFS through the real engine (xdelta3).

Requests are counted by a wrapper around the ObjectStore the engine and the cache share: it counts
what the cache asks for; the S3 server answering is real.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from app.assets.cache import AssetCache, Outcome
from app.assets.revalidation import Freshness, RevalidationPolicy
from app.caches.memory import MemoryReferenceCache
from app.domain.sizes import MiB
from app.engine.codec import XDelta3Codec
from app.engine.engine import DeltaEngine
from app.engine.references import ReferenceProvider
from app.engine.results import StoredAs
from app.errors import ObjectNotFound, StorageUnavailable
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import free_ports
from tests.conftest import S3Endpoint
from tests.support.assets import Clock, CountingStore, FetchReport, engine_cache, fetch_in_child

pytestmark = pytest.mark.integration

DAY = 86400.0
ONE_DAY = Freshness.after(DAY)


@pytest.fixture
def uploader(s3_store: S3ObjectStore, tmp_path: Path) -> Callable[[str, str, bytes], StoredAs]:
    """Upload through a separate engine (not counted): `upload(bucket, key, data)`."""
    refs = ReferenceProvider(s3_store, MemoryReferenceCache(64 * MiB), work_dir=tmp_path / "up")
    engine = DeltaEngine(s3_store, XDelta3Codec(), refs, work_dir=tmp_path / "up")

    def upload(bucket: str, key: str, data: bytes) -> StoredAs:
        path = tmp_path / "upload.tmp"
        path.write_bytes(data)
        return engine.put(bucket, key, path).stored_as

    return upload


@pytest.fixture
def counting(s3_store: S3ObjectStore) -> CountingStore:
    return CountingStore(s3_store)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_cache(tmp_path: Path, counting: CountingStore, clock: Clock) -> Callable[..., AssetCache]:
    def make(freshness: Freshness = ONE_DAY, immutable: tuple[str, ...] = ()) -> AssetCache:
        policy = RevalidationPolicy(
            freshness, max_stale_seconds=7 * DAY, immutable_buckets=frozenset(immutable)
        )
        return engine_cache(counting, tmp_path / "cache", policy, now=clock)

    return make


def archive(seed: int, size: int = 256 * 1024, base: bytes | None = None) -> bytes:
    """Random bytes; with `base`, a copy with a few bytes changed (so it deltas well)."""
    rng = random.Random(seed)
    data = bytearray(base if base is not None else rng.randbytes(size))
    for _ in range(8):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


@pytest.mark.parametrize(
    ("key", "stored_as"), [("tools/cli.bin", StoredAs.DIRECT), ("rel/app.zip", StoredAs.REFERENCE)]
)
def test_fresh_fetch_then_no_request_then_one_conditional_request(
    bucket: str,
    uploader: Callable[[str, str, bytes], StoredAs],
    counting: CountingStore,
    clock: Clock,
    make_cache: Callable[..., AssetCache],
    key: str,
    stored_as: StoredAs,
) -> None:
    data = archive(1)
    assert uploader(bucket, key, data) is stored_as
    cache = make_cache()

    first = cache.get(bucket, key)
    assert first.outcome is Outcome.DOWNLOADED
    assert first.path.read_bytes() == data
    assert counting.downloads >= 1

    counting.reset()
    clock.advance(DAY - 1)
    assert cache.get(bucket, key).outcome is Outcome.HIT
    assert counting.total == 0, counting.calls

    clock.advance(1)  # max-age reached: one conditional request, no download
    again = cache.get(bucket, key)
    assert again.outcome is Outcome.REVALIDATED
    assert again.path.read_bytes() == data
    assert counting.total == 1, counting.calls
    assert counting.downloads == 0
    if stored_as is StoredAs.DIRECT:
        assert counting.conditional_gets == 1  # If-None-Match answered 304
    else:
        assert counting.calls == {"head": 1}  # the .delta's ETag compared


def test_a_changed_direct_object_is_replaced_in_one_request(
    bucket: str,
    uploader: Callable[[str, str, bytes], StoredAs],
    counting: CountingStore,
    clock: Clock,
    make_cache: Callable[..., AssetCache],
) -> None:
    uploader(bucket, "tools/cli.bin", b"old bytes " * 1000)
    cache = make_cache()
    old = cache.get(bucket, "tools/cli.bin")
    with old.path.open("rb") as reader:
        uploader(bucket, "tools/cli.bin", b"new bytes!" * 2000)
        counting.reset()
        clock.advance(DAY)
        new = cache.get(bucket, "tools/cli.bin")
        assert reader.read() == b"old bytes " * 1000  # an open reader never sees a mix
    assert new.outcome is Outcome.REPLACED
    assert new.path == old.path
    assert new.path.read_bytes() == b"new bytes!" * 2000
    assert new.sha256 == hashlib.sha256(b"new bytes!" * 2000).hexdigest()
    assert counting.calls == {"get_to_file": 1}  # the conditional GET brought the new body
    assert not [p for p in new.path.parent.iterdir() if p.name != "cli.bin"]


def test_a_changed_delta_is_rebuilt_and_replaced(
    bucket: str,
    uploader: Callable[[str, str, bytes], StoredAs],
    clock: Clock,
    make_cache: Callable[..., AssetCache],
) -> None:
    v1 = archive(2)
    uploader(bucket, "rel/app.zip", v1)
    uploader(bucket, "rel/other.zip", archive(3, base=v1))  # reference stays v1
    cache = make_cache(Freshness.after(60))
    cache.get(bucket, "rel/app.zip")
    v2 = archive(4, base=v1)
    assert uploader(bucket, "rel/app.zip", v2) is StoredAs.DELTA
    clock.advance(60)
    got = cache.get(bucket, "rel/app.zip")
    assert got.outcome is Outcome.REPLACED
    assert got.path.read_bytes() == v2


def test_max_age_zero_asks_every_time(
    bucket: str,
    uploader: Callable[[str, str, bytes], StoredAs],
    counting: CountingStore,
    make_cache: Callable[..., AssetCache],
) -> None:
    uploader(bucket, "a.txt", b"text")
    cache = make_cache(Freshness.after(0))
    cache.get(bucket, "a.txt")
    counting.reset()
    outcomes = [cache.get(bucket, "a.txt").outcome for _ in range(3)]
    assert outcomes == [Outcome.REVALIDATED] * 3
    assert counting.total == 3


def test_an_immutable_bucket_makes_no_request(
    bucket: str,
    uploader: Callable[[str, str, bytes], StoredAs],
    counting: CountingStore,
    clock: Clock,
    make_cache: Callable[..., AssetCache],
) -> None:
    uploader(bucket, "a.txt", b"frozen")
    cache = make_cache(Freshness.always(), immutable=(bucket,))
    cache.get(bucket, "a.txt")
    counting.reset()
    clock.advance(365 * DAY)
    assert cache.get(bucket, "a.txt").outcome is Outcome.HIT
    assert counting.total == 0


def dead_endpoint() -> str:
    [port] = free_ports(1)
    return f"http://127.0.0.1:{port}"  # nothing listens here any more


def test_s3_down_within_max_stale_still_answers(
    bucket: str,
    seaweed: S3Endpoint,
    uploader: Callable[[str, str, bytes], StoredAs],
    tmp_path: Path,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    uploader(bucket, "a.txt", b"keep me")
    policy = RevalidationPolicy(Freshness.after(60), max_stale_seconds=3600)
    live = S3ObjectStore(seaweed.endpoint_url, seaweed.region, seaweed.access_key, seaweed.secret_key)
    engine_cache(live, tmp_path / "cache", policy, now=clock).get(bucket, "a.txt")
    live.close()

    dead = S3ObjectStore(
        dead_endpoint(),
        seaweed.region,
        seaweed.access_key,
        seaweed.secret_key,
        connect_timeout=1,
        max_attempts=1,
    )
    offline = engine_cache(dead, tmp_path / "cache", policy, now=clock)
    clock.advance(3600)
    with caplog.at_level(logging.WARNING, logger="app.assets.cache"):
        stale = offline.get(bucket, "a.txt")
    assert stale.outcome is Outcome.STALE
    assert stale.path.read_bytes() == b"keep me"
    assert any("unreachable" in record.getMessage() for record in caplog.records)

    clock.advance(1)
    with pytest.raises(StorageUnavailable, match="past max-stale"):
        offline.get(bucket, "a.txt")
    with pytest.raises(StorageUnavailable):
        offline.get(bucket, "never-fetched.txt")
    dead.close()


def test_two_processes_fetching_one_large_asset_download_once(
    bucket: str, seaweed: S3Endpoint, uploader: Callable[[str, str, bytes], StoredAs], tmp_path: Path
) -> None:
    data = os.urandom(48 * MiB)
    uploader(bucket, "big/blob.bin", data)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results: multiprocessing.Queue[FetchReport] = ctx.Queue()
    endpoint = (seaweed.endpoint_url, seaweed.access_key, seaweed.secret_key)
    args = (endpoint, str(tmp_path / "shared-cache"), bucket, "big/blob.bin", barrier, results)
    workers = [ctx.Process(target=fetch_in_child, args=args) for _ in range(2)]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    expected = hashlib.sha256(data).hexdigest()
    assert sorted(r.outcome for r in reports) == [Outcome.DOWNLOADED.value, Outcome.HIT.value]
    assert sum(r.downloads for r in reports) == 1  # one GET with a body between both processes
    assert all(r.sha256 == expected and r.size == len(data) for r in reports)


def test_a_foreign_object_revalidates_on_its_s3_etag(
    bucket: str,
    s3_store: S3ObjectStore,
    counting: CountingStore,
    clock: Clock,
    make_cache: Callable[..., AssetCache],
) -> None:
    s3_store.put_bytes(bucket, "plain/data.json", b'{"a": 1}')  # no Glider metadata at all
    cache = make_cache(Freshness.after(60))
    first = cache.get(bucket, "plain/data.json")
    assert first.sha256 == hashlib.sha256(b'{"a": 1}').hexdigest()
    counting.reset()
    clock.advance(60)
    assert cache.get(bucket, "plain/data.json").outcome is Outcome.REVALIDATED
    assert (counting.conditional_gets, counting.downloads, counting.total) == (1, 0, 1)
    s3_store.put_bytes(bucket, "plain/data.json", b'{"a": 2}')
    clock.advance(60)
    changed = cache.get(bucket, "plain/data.json")
    assert changed.outcome is Outcome.REPLACED
    assert changed.path.read_bytes() == b'{"a": 2}'


def test_a_deleted_object_is_reported_missing_not_served(
    bucket: str,
    s3_store: S3ObjectStore,
    uploader: Callable[[str, str, bytes], StoredAs],
    clock: Clock,
    make_cache: Callable[..., AssetCache],
) -> None:
    uploader(bucket, "gone/a.txt", b"soon gone")
    cache = make_cache(Freshness.after(60))
    cache.get(bucket, "gone/a.txt")
    s3_store.delete(bucket, "gone/a.txt")
    clock.advance(60)
    with pytest.raises(ObjectNotFound):
        cache.get(bucket, "gone/a.txt")
