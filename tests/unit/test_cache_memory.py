"""MemoryReferenceCache specifics: sealed memfd leases, no descriptor leaks."""

from __future__ import annotations

import gc
import hashlib
import os
from pathlib import Path

import pytest

from app.caches.memory import MemoryReferenceCache


def open_fds() -> int:
    """The memfd descriptors this process holds: the ones a lease creates. Other descriptors
    (sockets and files of threads left by earlier tests) come and go on their own schedule."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed between listing and reading
            continue
        count += target.startswith("/memfd:")
    return count


@pytest.fixture
def filled(tmp_path: Path) -> tuple[MemoryReferenceCache, str, bytes]:
    data = os.urandom(10_000)
    src = tmp_path / "ref"
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    cache = MemoryReferenceCache(1_000_000)
    cache.put("s", sha, src)
    src.unlink()  # the cache holds its own copy
    return cache, sha, data


def test_lease_is_a_sealed_in_memory_file(filled: tuple[MemoryReferenceCache, str, bytes]) -> None:
    cache, sha, data = filled
    lease = cache.open("s", sha)
    assert lease is not None
    with lease as path:
        assert os.readlink(path).startswith("/memfd:")
        with pytest.raises(PermissionError), path.open("r+b") as fh:
            fh.write(b"tamper")
        assert path.read_bytes() == data


def test_leases_never_entered_do_not_leak_descriptors(
    filled: tuple[MemoryReferenceCache, str, bytes],
) -> None:
    cache, sha, _ = filled
    before = open_fds()
    for _ in range(50):
        assert cache.open("s", sha) is not None  # dropped without a with-block
    gc.collect()
    assert open_fds() == before
    lease = cache.open("s", sha)
    assert lease is not None
    with lease:
        assert open_fds() == before + 1  # the counter sees the lease's memfd
    for _ in range(50):
        lease = cache.open("s", sha)
        assert lease is not None
        with lease:
            pass
    assert open_fds() == before


def test_zero_budget_keeps_nothing(tmp_path: Path) -> None:
    src = tmp_path / "ref"
    src.write_bytes(b"abc")
    cache = MemoryReferenceCache(0)
    sha = hashlib.sha256(b"abc").hexdigest()
    cache.put("s", sha, src)
    assert cache.open("s", sha) is None
    with pytest.raises(ValueError):
        MemoryReferenceCache(-1)
