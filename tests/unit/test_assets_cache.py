"""AssetCache file mechanics and decisions, on a fake source (the cache, not S3, is under test)."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.assets.cache import AssetCache, Outcome
from app.assets.revalidation import Freshness, RevalidationPolicy
from app.errors import IntegrityError, ObjectNotFound, StorageUnavailable
from tests.support.assets import FakeSource

B = "assets-bucket"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def source() -> FakeSource:
    src = FakeSource()
    src.put(B, "dir/a.bin", b"version one")
    return src


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_cache(tmp_path: Path, source: FakeSource, clock: Clock) -> Callable[..., AssetCache]:
    def make(
        freshness: Freshness | None = None, stale: float = 600.0, immutable: tuple[str, ...] = ()
    ) -> AssetCache:
        policy = RevalidationPolicy(freshness or Freshness.after(60), stale, frozenset(immutable))
        return AssetCache(tmp_path / "cache", source, policy, now=clock)

    return make


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_miss_downloads_then_hits_without_asking(
    make_cache: Callable[..., AssetCache], source: FakeSource
) -> None:
    cache = make_cache()
    first = cache.get(B, "dir/a.bin")
    assert first.outcome is Outcome.DOWNLOADED
    assert first.path.read_bytes() == b"version one"
    assert first.path.name == "a.bin"
    assert first.sha256 == sha(b"version one")
    second = cache.get(B, "dir/a.bin")
    assert second.outcome is Outcome.HIT
    assert second.path == first.path
    assert source.calls == {"fetch": 1}


def test_after_max_age_unchanged_costs_one_refresh_and_renews(
    make_cache: Callable[..., AssetCache], source: FakeSource, clock: Clock
) -> None:
    cache = make_cache(Freshness.after(60))
    cache.get(B, "dir/a.bin")
    clock.advance(61)
    again = cache.get(B, "dir/a.bin")
    assert again.outcome is Outcome.REVALIDATED
    assert again.validated_at == clock.now
    assert source.calls == {"fetch": 1, "refresh": 1}
    clock.advance(30)  # within the renewed max-age
    assert cache.get(B, "dir/a.bin").outcome is Outcome.HIT
    assert source.calls == {"fetch": 1, "refresh": 1}


def test_changed_remote_replaces_atomically_open_readers_keep_old_bytes(
    make_cache: Callable[..., AssetCache], source: FakeSource, clock: Clock
) -> None:
    cache = make_cache(Freshness.after(60))
    path = cache.get(B, "dir/a.bin").path
    with path.open("rb") as reader:
        source.put(B, "dir/a.bin", b"version two, longer")
        clock.advance(60)
        replaced = cache.get(B, "dir/a.bin")
        assert replaced.outcome is Outcome.REPLACED
        assert reader.read() == b"version one"  # the old inode is untouched
    assert replaced.path.read_bytes() == b"version two, longer"
    assert replaced.sha256 == sha(b"version two, longer")
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".glider-tmp")]


def test_max_age_zero_revalidates_every_time(
    make_cache: Callable[..., AssetCache], source: FakeSource
) -> None:
    cache = make_cache(Freshness.after(0))
    for _ in range(3):
        cache.get(B, "dir/a.bin")
    assert source.calls == {"fetch": 1, "refresh": 2}


def test_never_and_immutable_make_no_request(
    make_cache: Callable[..., AssetCache], source: FakeSource, clock: Clock
) -> None:
    cache = make_cache(Freshness.always(), immutable=(B,))
    cache.get(B, "dir/a.bin")
    clock.advance(10**7)
    assert cache.get(B, "dir/a.bin").outcome is Outcome.HIT
    assert cache.get(B, "dir/a.bin", freshness=Freshness.never()).outcome is Outcome.HIT
    assert source.calls == {"fetch": 1}


def test_per_call_freshness_overrides_the_policy(
    make_cache: Callable[..., AssetCache], source: FakeSource
) -> None:
    cache = make_cache(Freshness.never())
    cache.get(B, "dir/a.bin")
    assert cache.get(B, "dir/a.bin", freshness=Freshness.always()).outcome is Outcome.REVALIDATED


def test_unreachable_within_max_stale_serves_with_a_warning(
    make_cache: Callable[..., AssetCache], source: FakeSource, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(Freshness.after(60), stale=600)
    cache.get(B, "dir/a.bin")
    source.reachable = False
    clock.advance(600)
    with caplog.at_level(logging.WARNING, logger="app.assets.cache"):
        stale = cache.get(B, "dir/a.bin")
    assert stale.outcome is Outcome.STALE
    assert stale.path.read_bytes() == b"version one"
    assert any("serving a local copy" in r.getMessage() for r in caplog.records)
    clock.advance(1)
    with pytest.raises(StorageUnavailable, match="past max-stale"):
        cache.get(B, "dir/a.bin")


def test_unreachable_without_a_copy_is_an_error(
    make_cache: Callable[..., AssetCache], source: FakeSource
) -> None:
    source.reachable = False
    with pytest.raises(StorageUnavailable):
        make_cache().get(B, "dir/a.bin")


def test_missing_object_is_not_found_and_leaves_nothing(
    make_cache: Callable[..., AssetCache], tmp_path: Path
) -> None:
    cache = make_cache()
    with pytest.raises(ObjectNotFound):
        cache.get(B, "nope.bin")
    data, sidecar, _ = cache.entry_paths(B, "nope.bin")
    assert not data.exists()
    assert not sidecar.exists()
    assert list(data.parent.iterdir()) == []


def test_local_paths_come_back_unchanged(make_cache: Callable[..., AssetCache], source: FakeSource) -> None:
    cache = make_cache()
    assert cache.path("/some/where/file.txt") == Path("/some/where/file.txt")
    assert cache.path(Path("rel/file.txt")) == Path("rel/file.txt")
    fetched = cache.path(f"s3://{B}/dir/a.bin")
    assert cache.path(fetched) == fetched
    assert source.calls == {"fetch": 1}


def test_pinned_hash_mismatch_is_refused_and_not_installed(
    make_cache: Callable[..., AssetCache], source: FakeSource
) -> None:
    cache = make_cache()
    with pytest.raises(IntegrityError, match="pins"):
        cache.get(B, "dir/a.bin", expected_sha256=sha(b"something else"))
    data, sidecar, _ = cache.entry_paths(B, "dir/a.bin")
    assert not data.exists()
    assert not sidecar.exists()


def test_pinned_mismatch_on_a_fresh_local_copy_asks_the_remote(
    make_cache: Callable[..., AssetCache], source: FakeSource
) -> None:
    cache = make_cache(Freshness.never())
    cache.get(B, "dir/a.bin")
    with pytest.raises(IntegrityError):  # remote unchanged: still not the pinned bytes
        cache.get(B, "dir/a.bin", expected_sha256=sha(b"version two"))
    source.put(B, "dir/a.bin", b"version two")
    got = cache.get(B, "dir/a.bin", expected_sha256=sha(b"version two"))
    assert got.outcome is Outcome.REPLACED
    assert got.path.read_bytes() == b"version two"
    assert source.calls == {"fetch": 1, "refresh": 2}


def test_missing_or_corrupt_sidecar_means_fetch_again(
    make_cache: Callable[..., AssetCache], source: FakeSource
) -> None:
    cache = make_cache()
    cache.get(B, "dir/a.bin")
    _, sidecar, _ = cache.entry_paths(B, "dir/a.bin")
    sidecar.write_text("{broken")
    assert cache.get(B, "dir/a.bin").outcome is Outcome.DOWNLOADED
    sidecar.unlink()  # as after a crash between removing the old sidecar and writing the new
    assert cache.get(B, "dir/a.bin").outcome is Outcome.DOWNLOADED
    assert source.calls == {"fetch": 3}


def test_keys_that_prefix_each_other_do_not_collide(
    make_cache: Callable[..., AssetCache], source: FakeSource
) -> None:
    source.put(B, "a", b"file a")
    source.put(B, "a/b", b"file a/b")
    cache = make_cache()
    assert cache.get(B, "a").path.read_bytes() == b"file a"
    assert cache.get(B, "a/b").path.read_bytes() == b"file a/b"


def test_concurrent_threads_download_once(make_cache: Callable[..., AssetCache], source: FakeSource) -> None:
    cache = make_cache()
    gate = threading.Event()
    source.fetch_gate = gate
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(cache.get, B, "dir/a.bin") for _ in range(8)]
        gate.set()
        results = [f.result(timeout=30) for f in futures]
    assert source.calls["fetch"] == 1
    assert sorted(r.outcome for r in results) == sorted([Outcome.DOWNLOADED] + [Outcome.HIT] * 7)
    assert {r.path.read_bytes() for r in results} == {b"version one"}
