"""FilesystemReferenceCache specifics: layout, permissions, restart, pins, temp files."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from app.caches.filesystem import FilesystemReferenceCache, namespace
from app.errors import InvalidInput


def blob(tmp_path: Path, name: str, size: int) -> tuple[Path, str, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest(), data


def test_layout_is_content_addressed_and_private(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    cache = FilesystemReferenceCache(root, 1_000_000)
    src, sha, _ = blob(tmp_path, "a", 1000)
    hostile = "../../etc/passwd/.."
    cache.put(hostile, sha, src)
    stored = root / "v1" / namespace(hostile) / sha
    assert stored.is_file()
    assert [p for p in root.rglob("*") if p.is_file()] == [stored]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for directory in (root, root / "v1", stored.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


@pytest.mark.parametrize("bad", ["", "ABC", "0" * 63, "../" + "0" * 61, "g" * 64, "A" * 64])
def test_keys_must_be_hex_digests(tmp_path: Path, bad: str) -> None:
    cache = FilesystemReferenceCache(tmp_path / "cache", 1000)
    src, _, _ = blob(tmp_path, "a", 10)
    with pytest.raises(InvalidInput):
        cache.put("space", bad, src)
    with pytest.raises(InvalidInput):
        cache.open("space", bad)


def test_restart_keeps_entries_and_recency(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    first = FilesystemReferenceCache(root, 3000)
    a, b, c = (blob(tmp_path, n, 1000) for n in "abc")
    for src, sha, _ in (a, b, c):
        first.put("s", sha, src)
    # Make the on-disk order explicit (mtime resolution can be coarse): a oldest, then b, c.
    for age, (_, sha, _) in zip((30, 20, 10), (a, b, c), strict=True):
        path = root / "v1" / namespace("s") / sha
        os.utime(path, (time.time() - age, time.time() - age))
    lease = first.open("s", a[1])  # a hit refreshes a's mtime
    assert lease is not None
    lease.close()

    second = FilesystemReferenceCache(root, 3000)
    assert (second.counters().entries, second.counters().bytes) == (3, 3000)
    d = blob(tmp_path, "d", 1000)
    second.put("s", d[1], d[0])
    assert second.open("s", b[1]) is None  # b was least recently used
    for _, sha, data in (a, c, d):
        hit = second.open("s", sha)
        assert hit is not None
        with hit as p:
            assert p.read_bytes() == data


def test_restart_enforces_a_smaller_budget_and_drops_stale_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    first = FilesystemReferenceCache(root, 10_000)
    entries = [blob(tmp_path, f"e{i}", 1000) for i in range(5)]
    for src, sha, _ in entries:
        first.put("s", sha, src)
    ns_dir = root / "v1" / namespace("s")
    stale, fresh = ns_dir / ".tmp-crashed", ns_dir / ".tmp-writing"
    stale.write_bytes(b"x" * 10)
    fresh.write_bytes(b"y" * 10)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    second = FilesystemReferenceCache(root, 2500)
    assert second.counters().entries == 2
    assert second.counters().bytes == 2000
    assert not stale.exists()
    assert fresh.exists()  # may belong to a live writer: left alone


def test_eviction_for_room_skips_pinned_entries(tmp_path: Path) -> None:
    cache = FilesystemReferenceCache(tmp_path / "cache", 2000)
    a, b, c = (blob(tmp_path, n, 1000) for n in "abc")
    cache.put("s", a[1], a[0])
    cache.put("s", b[1], b[0])
    lease = cache.open("s", a[1])  # a is pinned (and also the most recent now)
    assert lease is not None
    with lease:
        lease_b = cache.open("s", b[1])  # b pinned as well: nothing can make room
        assert lease_b is not None
        with lease_b:
            cache.put("s", c[1], c[0])
            assert cache.open("s", c[1]) is None  # declined, budget kept
        cache.put("s", c[1], c[0])  # b unpinned now: it goes
    assert cache.open("s", b[1]) is None
    assert cache.counters().entries == 2


def test_draining_bytes_count_until_the_reader_leaves(tmp_path: Path) -> None:
    cache = FilesystemReferenceCache(tmp_path / "cache", 2000)
    a, b = blob(tmp_path, "a", 1500), blob(tmp_path, "b", 1000)
    cache.put("s", a[1], a[0])
    lease = cache.open("s", a[1])
    assert lease is not None
    with lease as path:
        cache.clear()  # a unlinked, still open: its 1500 bytes are still on the device
        cache.put("s", b[1], b[0])
        assert cache.open("s", b[1]) is None  # 1500 + 1000 > 2000
        assert path.read_bytes() == a[2]
    cache.put("s", b[1], b[0])
    assert cache.open("s", b[1]) is not None


def test_no_temp_file_is_left_after_a_put(tmp_path: Path) -> None:
    cache = FilesystemReferenceCache(tmp_path / "cache", 10_000_000)
    src, sha, _ = blob(tmp_path, "a", 3 * 1024 * 1024)
    cache.put("s", sha, src)
    with pytest.raises(Exception):  # noqa: B017 - any failure must clean up
        cache.put("s", "1" * 64, src)
    names = [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert names == [sha]


def test_file_deleted_behind_the_cache_is_a_miss(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    cache = FilesystemReferenceCache(root, 10_000)
    src, sha, _ = blob(tmp_path, "a", 1000)
    cache.put("s", sha, src)
    (root / "v1" / namespace("s") / sha).unlink()
    assert cache.open("s", sha) is None
    assert (cache.counters().entries, cache.counters().bytes) == (0, 0)
    cache.put("s", sha, src)
    assert cache.open("s", sha) is not None
