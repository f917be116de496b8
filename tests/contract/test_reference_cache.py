"""One contract suite for every ReferenceCache: memory, filesystem, and encrypted over each.

Everything here holds for all four compositions; backend-specific behaviour lives in
tests/unit/test_cache_*.py. Real files, real threads, a real xdelta3; no mocks.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.caches.base import ClearResult, EvictionReason, ReferenceCache, ignore_eviction
from app.caches.encrypted import EncryptedReferenceCache
from app.caches.filesystem import FilesystemReferenceCache, namespace
from app.caches.memory import MemoryReferenceCache
from app.errors import IntegrityError

SPACE = "bucket/releases/v1"
HEADER = 52  # encrypted entry header
TAG = 16  # per 1 MiB chunk


@dataclass
class Variant:
    """Builds one composition over `root` (an empty directory the test owns)."""

    name: str
    encrypted: bool
    on_disk: bool

    def build(
        self,
        root: Path,
        max_bytes: int,
        key: bytes | None = None,
        on_evict: Callable[[EvictionReason], None] = ignore_eviction,
    ) -> ReferenceCache:
        inner = self.inner(root, max_bytes, on_evict)
        if self.encrypted:
            work = root / "work"
            work.mkdir(exist_ok=True)
            return EncryptedReferenceCache(inner, key or os.urandom(32), work_dir=work)
        return inner

    def inner(
        self, root: Path, max_bytes: int, on_evict: Callable[[EvictionReason], None] = ignore_eviction
    ) -> ReferenceCache:
        if self.on_disk:
            return FilesystemReferenceCache(root / "cache", max_bytes, on_evict=on_evict)
        return MemoryReferenceCache(max_bytes, on_evict=on_evict)

    def stored_size(self, plain: int) -> int:
        if not self.encrypted:
            return plain
        return plain + HEADER + TAG * max(1, -(-plain // (1024 * 1024)))

    def corrupt(self, cache: ReferenceCache, root: Path, space: str, sha: str) -> None:
        """Flip one byte in the middle of the stored entry, behind the cache's back."""
        inner = cache.inner if isinstance(cache, EncryptedReferenceCache) else cache
        inner_space = ("encrypted:" if self.encrypted else "") + space
        if isinstance(inner, MemoryReferenceCache):
            key = (inner_space, sha)
            data = bytearray(inner._entries[key])
            data[len(data) // 2] ^= 0xFF
            inner._entries[key] = bytes(data)
            return
        path = root / "cache" / "v1" / namespace(inner_space) / sha
        with path.open("r+b") as fh:
            fh.seek(path.stat().st_size // 2)
            byte = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([byte[0] ^ 0xFF]))


VARIANTS = [
    Variant("memory", encrypted=False, on_disk=False),
    Variant("filesystem", encrypted=False, on_disk=True),
    Variant("encrypted-memory", encrypted=True, on_disk=False),
    Variant("encrypted-filesystem", encrypted=True, on_disk=True),
]


@pytest.fixture(params=VARIANTS, ids=lambda v: v.name)
def variant(request: pytest.FixtureRequest) -> Variant:
    return request.param


@pytest.fixture
def blobs(tmp_path: Path) -> Callable[[int], tuple[Path, str, bytes]]:
    """Random files: blob(size) -> (path, sha256, bytes)."""
    src = tmp_path / "src"
    src.mkdir()
    counter = iter(range(1_000_000))

    def make(size: int) -> tuple[Path, str, bytes]:
        data = os.urandom(size)
        path = src / f"blob{next(counter)}"
        path.write_bytes(data)
        return path, hashlib.sha256(data).hexdigest(), data

    return make


def read_hit(cache: ReferenceCache, space: str, sha: str) -> bytes | None:
    lease = cache.open(space, sha)
    if lease is None:
        return None
    with lease as path:
        return path.read_bytes()


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in files_under(root / "cache")) if (root / "cache").exists() else 0


def test_miss_put_hit_round_trip(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    cache = variant.build(tmp_path, 10_000_000)
    path, sha, data = blobs(300_000)
    assert cache.open(SPACE, sha) is None
    cache.put(SPACE, sha, path)
    assert path.read_bytes() == data  # source untouched
    assert read_hit(cache, SPACE, sha) == data
    assert cache.open("another/space", sha) is None  # keyed by space too
    c = cache.counters()
    assert (c.hits, c.misses, c.entries, c.bytes) == (1, 2, 1, variant.stored_size(len(data)))


def test_path_feeds_a_subprocess_and_dies_with_the_block(
    variant: Variant, tmp_path: Path, blobs: Callable
) -> None:
    cache = variant.build(tmp_path, 10_000_000)
    ref, sha, data = blobs(200_000)
    cache.put(SPACE, sha, ref)
    target = tmp_path / "target"
    target.write_bytes(data[:100_000] + b"changed" + data[100_000:])
    delta, out = tmp_path / "d.vcdiff", tmp_path / "out"
    lease = cache.open(SPACE, sha)
    assert lease is not None
    with lease as source:
        subprocess.run(["xdelta3", "-e", "-f", "-s", str(source), str(target), str(delta)], check=True)
        subprocess.run(["xdelta3", "-d", "-f", "-s", str(source), str(delta), str(out)], check=True)
    assert out.read_bytes() == target.read_bytes()
    assert delta.stat().st_size < 10_000
    assert not source.exists()


def test_corrupted_entry_raises_and_is_evicted(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    cache = variant.build(tmp_path, 10_000_000)
    path, sha, _ = blobs(50_000)
    cache.put(SPACE, sha, path)
    variant.corrupt(cache, tmp_path, SPACE, sha)
    with pytest.raises(IntegrityError):
        cache.open(SPACE, sha)
    assert cache.open(SPACE, sha) is None
    c = cache.counters()
    assert (c.entries, c.bytes, c.hits) == (0, 0, 0)
    assert c.evictions == 1
    if variant.on_disk:
        assert files_under(tmp_path / "cache") == []


def test_put_rejects_a_source_that_does_not_match(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    cache = variant.build(tmp_path, 10_000_000)
    path, _, _ = blobs(1000)
    wrong = "0" * 64
    with pytest.raises(IntegrityError):
        cache.put(SPACE, wrong, path)
    assert cache.open(SPACE, wrong) is None
    assert cache.counters().entries == 0
    if variant.on_disk:
        assert files_under(tmp_path / "cache") == []


def test_oversized_entry_is_not_kept(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    cache = variant.build(tmp_path, 5000)
    small, small_sha, _ = blobs(1000)
    big, big_sha, _ = blobs(6000)
    cache.put(SPACE, small_sha, small)
    cache.put(SPACE, big_sha, big)  # declined, silently
    assert cache.open(SPACE, big_sha) is None
    assert read_hit(cache, SPACE, small_sha) is not None  # and nothing was evicted for it
    assert cache.counters().entries == 1


def test_least_recently_used_goes_first(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    cache = variant.build(tmp_path, 3600)
    a, b, c, d = (blobs(1000) for _ in range(4))
    for path, sha, _ in (a, b, c):
        cache.put(SPACE, sha, path)
    assert read_hit(cache, SPACE, a[1]) == a[2]  # a is now the most recent
    cache.put(SPACE, d[1], d[0])
    assert cache.open(SPACE, b[1]) is None
    for path, sha, data in (a, c, d):
        assert read_hit(cache, SPACE, sha) == data, path
    assert cache.counters().evictions == 1


def test_every_eviction_is_told_to_the_listener_with_its_reason(
    variant: Variant, tmp_path: Path, blobs: Callable
) -> None:
    heard: list[EvictionReason] = []
    cache = variant.build(tmp_path, variant.stored_size(1000) * 3, on_evict=heard.append)
    a, b, c, d = (blobs(1000) for _ in range(4))
    for path, sha, _ in (a, b, c, d):  # the fourth pushes the oldest out
        cache.put(SPACE, sha, path)
    assert heard == [EvictionReason.SPACE]
    assert cache.evict(SPACE, c[1]) is True
    assert heard == [EvictionReason.SPACE, EvictionReason.REQUESTED]
    variant.corrupt(cache, tmp_path, SPACE, d[1])
    with pytest.raises(IntegrityError):
        cache.open(SPACE, d[1])
    assert heard == [EvictionReason.SPACE, EvictionReason.REQUESTED, EvictionReason.CORRUPT]
    cache.clear()  # a clear is counted by its trigger (dg_cache_clears_total), not as evictions
    assert len(heard) == 3
    assert cache.counters().evictions == 3


def test_clear_empties_memory_and_directory(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    cache = variant.build(tmp_path, 10_000_000)
    entries = [blobs(20_000 + i) for i in range(5)]
    for path, sha, _ in entries:
        cache.put(f"space{len(path.name)}", sha, path)
    before = cache.counters()
    assert before.entries == 5
    assert cache.clear() == ClearResult(bytes_freed=before.bytes, entries_freed=5)
    after = cache.counters()
    assert (after.entries, after.bytes) == (0, 0)
    assert all(cache.open(f"space{len(p.name)}", sha) is None for p, sha, _ in entries)
    if variant.on_disk:
        assert files_under(tmp_path / "cache") == []
    assert cache.clear() == ClearResult(0, 0)


def test_clear_and_evict_do_not_break_an_open_reader(
    variant: Variant, tmp_path: Path, blobs: Callable
) -> None:
    cache = variant.build(tmp_path, 10_000_000)
    (p1, s1, d1), (p2, s2, d2) = blobs(100_000), blobs(100_000)
    cache.put(SPACE, s1, p1)
    cache.put(SPACE, s2, p2)
    lease1, lease2 = cache.open(SPACE, s1), cache.open(SPACE, s2)
    assert lease1 is not None
    assert lease2 is not None
    with lease1 as path1, lease2 as path2:
        assert cache.evict(SPACE, s1) is True
        assert cache.clear().entries_freed == 1
        if variant.on_disk:
            assert files_under(tmp_path / "cache") == []
        assert path1.read_bytes() == d1
        assert subprocess.run(["cat", str(path2)], capture_output=True, check=True).stdout == d2
    assert cache.evict(SPACE, s1) is False


def test_evict(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    cache = variant.build(tmp_path, 10_000_000)
    path, sha, _ = blobs(1000)
    cache.put(SPACE, sha, path)
    assert cache.evict(SPACE, sha) is True
    assert cache.evict(SPACE, sha) is False
    assert cache.open(SPACE, sha) is None
    c = cache.counters()
    assert (c.entries, c.bytes, c.evictions) == (0, 0, 1)


@pytest.fixture
def scratch() -> Iterator[Callable[[], Path]]:
    """Fresh directories usable inside a hypothesis example (function fixtures are not reset)."""
    with tempfile.TemporaryDirectory() as top:
        counter = iter(range(1_000_000))

        def make() -> Path:
            path = Path(top) / str(next(counter))
            path.mkdir()
            return path

        yield make


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    budget=st.integers(min_value=0, max_value=20_000),
    ops=st.lists(
        st.tuples(st.sampled_from(["put", "open", "evict"]), st.integers(0, 5), st.integers(0, 12_000)),
        max_size=30,
    ),
)
def test_budget_is_never_exceeded(
    variant: Variant, scratch: Callable[[], Path], budget: int, ops: list[tuple[str, int, int]]
) -> None:
    root = scratch()
    cache = variant.build(root, budget)
    files: dict[int, tuple[Path, str, bytes]] = {}
    for op, slot, size in ops:
        if slot not in files:
            data = random.Random(slot * 7919 + size).randbytes(size)
            path = root / f"src{slot}"
            path.write_bytes(data)
            files[slot] = (path, hashlib.sha256(data).hexdigest(), data)
        path, sha, data = files[slot]
        if op == "put":
            cache.put(SPACE, sha, path)
            if variant.stored_size(len(data)) <= budget:
                assert read_hit(cache, SPACE, sha) == data  # a fitting entry is kept
        elif op == "open":
            assert read_hit(cache, SPACE, sha) in (None, data)
        else:
            cache.evict(SPACE, sha)
        c = cache.counters()
        assert c.bytes <= budget
        if variant.on_disk:
            assert disk_bytes(root) == c.bytes


def test_threads_hammering_the_same_keys(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    entries = [blobs(60_000 + 1000 * i) for i in range(4)]
    budget = variant.stored_size(61_000) * 2 + 500  # room for about two of the four
    cache = variant.build(tmp_path, budget)
    errors: list[BaseException] = []
    good_reads = [0]
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        start.wait(timeout=30)
        try:
            for _ in range(250):
                path, sha, data = rng.choice(entries)
                roll = rng.random()
                if roll < 0.35:
                    cache.put(SPACE, sha, path)
                elif roll < 0.85:
                    try:
                        lease = cache.open(SPACE, sha)
                    except IntegrityError as exc:  # would mean a torn or mixed-up entry
                        errors.append(exc)
                        continue
                    if lease is not None:
                        with lease as p:
                            got = p.read_bytes()
                        if got != data:
                            errors.append(AssertionError(f"wrong bytes for {sha[:8]}"))
                        with lock:
                            good_reads[0] += 1
                elif roll < 0.95:
                    cache.evict(SPACE, sha)
                else:
                    cache.clear()
                assert cache.counters().bytes <= budget
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert good_reads[0] > 0
    c = cache.counters()
    assert c.bytes <= budget
    assert c.hits > 0
    assert c.evictions > 0
    if variant.on_disk:
        assert disk_bytes(tmp_path) == c.bytes
    # Every lease was released: the whole budget is usable again.
    cache.clear()
    big_plain = budget - variant.stored_size(0)
    path = tmp_path / "big"
    data = os.urandom(big_plain)
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    cache.put(SPACE, sha, path)
    assert read_hit(cache, SPACE, sha) == data


# -- encrypted compositions only ---------------------------------------------------------------

encrypted_only = pytest.mark.parametrize(
    "variant", [v for v in VARIANTS if v.encrypted], ids=lambda v: v.name, indirect=False
)


def plaintext_anywhere(data: bytes, directory: Path) -> list[Path]:
    probe = data[1000:1064]
    return [p for p in files_under(directory) if probe in p.read_bytes()]


@encrypted_only
def test_no_plaintext_on_disk(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    cache = variant.build(tmp_path, 10_000_000)
    path, sha, data = blobs(3 * 1024 * 1024 + 17)  # several chunks
    cache.put(SPACE, sha, path)
    stores = [tmp_path / "cache", tmp_path / "work"]
    lease = cache.open(SPACE, sha)
    assert lease is not None
    with lease as plain:
        assert plain.read_bytes() == data
        assert str(plain).startswith("/proc/")
        for directory in stores:
            assert plaintext_anywhere(data, directory) == []
    for directory in stores:
        assert plaintext_anywhere(data, directory) == []
    assert files_under(tmp_path / "work") == []
    cache.clear()
    assert files_under(tmp_path / "cache") == []


@encrypted_only
def test_wrong_key_is_a_miss_and_purges(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    inner = variant.inner(tmp_path, 10_000_000)
    old = EncryptedReferenceCache(inner, os.urandom(32))
    path, sha, data = blobs(100_000)
    old.put(SPACE, sha, path)
    rotated = EncryptedReferenceCache(inner, os.urandom(32))
    assert rotated.open(SPACE, sha) is None
    assert inner.counters().entries == 0  # purged, not left to rot
    assert old.open(SPACE, sha) is None
    if variant.on_disk:
        assert files_under(tmp_path / "cache") == []
    rotated.put(SPACE, sha, path)
    assert read_hit(rotated, SPACE, sha) == data


@encrypted_only
def test_default_key_is_ephemeral(variant: Variant, tmp_path: Path, blobs: Callable) -> None:
    inner = variant.inner(tmp_path, 10_000_000)
    path, sha, data = blobs(1000)
    first = EncryptedReferenceCache(inner)
    first.put(SPACE, sha, path)
    assert read_hit(first, SPACE, sha) == data
    assert EncryptedReferenceCache(inner).open(SPACE, sha) is None
