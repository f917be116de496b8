"""EncryptedReferenceCache specifics: tampering, binding to the entry, key handling, restarts."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from app.caches.base import EvictionReason
from app.caches.encrypted import EncryptedReferenceCache
from app.caches.filesystem import FilesystemReferenceCache
from app.caches.memory import MemoryReferenceCache
from app.errors import IntegrityError

KEY = os.urandom(32)
CHUNK = 1024 * 1024


def blob(tmp_path: Path, name: str, size: int) -> tuple[Path, str, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest(), data


def stored(inner: MemoryReferenceCache, space: str, sha: str) -> bytes:
    return inner._entries[("encrypted:" + space, sha)]


def replace(inner: MemoryReferenceCache, space: str, sha: str, data: bytes) -> None:
    inner._entries[("encrypted:" + space, sha)] = data


def test_ciphertext_holds_no_plaintext(tmp_path: Path) -> None:
    inner = MemoryReferenceCache(10_000_000)
    cache = EncryptedReferenceCache(inner, KEY)
    src, sha, data = blob(tmp_path, "a", 2 * CHUNK + 5)
    cache.put("s", sha, src)
    ciphertext = stored(inner, "s", sha)
    assert data[:64] not in ciphertext
    assert data[CHUNK : CHUNK + 64] not in ciphertext
    assert len(ciphertext) == len(data) + 52 + 3 * 16


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: c[: len(c) - 1], id="truncated"),
        pytest.param(lambda c: c + b"\0", id="extended"),
        pytest.param(lambda c: c[:40] + bytes([c[40] ^ 1]) + c[41:], id="header-salt"),
        pytest.param(lambda c: c[:48] + bytes([c[48] ^ 1]) + c[49:], id="header-chunk-size"),
        pytest.param(lambda c: b"XXXXXXXX" + c[8:], id="magic"),
        pytest.param(
            lambda c: c[:52] + c[52 + CHUNK + 16 : 52 + 2 * (CHUNK + 16)] + c[52 + CHUNK + 16 :], id="dup"
        ),
        pytest.param(lambda c: c[:20], id="short-header"),
    ],
)
def test_tampering_is_an_integrity_error_and_evicts(tmp_path: Path, tamper: Callable[[bytes], bytes]) -> None:
    inner = MemoryReferenceCache(10_000_000)
    cache = EncryptedReferenceCache(inner, KEY)
    src, sha, _ = blob(tmp_path, "a", 2 * CHUNK + 5)
    cache.put("s", sha, src)
    replace(inner, "s", sha, tamper(stored(inner, "s", sha)))
    with pytest.raises(IntegrityError):
        cache.open("s", sha)
    assert inner.counters().entries == 0


def test_entries_are_bound_to_their_space_and_hash(tmp_path: Path) -> None:
    inner = MemoryReferenceCache(10_000_000)
    cache = EncryptedReferenceCache(inner, KEY)
    a, b = blob(tmp_path, "a", 1000), blob(tmp_path, "b", 1000)
    cache.put("s", a[1], a[0])
    cache.put("s", b[1], b[0])
    replace(inner, "other", a[1], stored(inner, "s", a[1]))  # moved to another space
    replace(inner, "s", b[1], stored(inner, "s", a[1]))  # filed under another hash
    with pytest.raises(IntegrityError):
        cache.open("other", a[1])
    with pytest.raises(IntegrityError):
        cache.open("s", b[1])
    hit = cache.open("s", a[1])
    assert hit is not None
    with hit as path:
        assert path.read_bytes() == a[2]


def test_persistent_key_survives_a_restart(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    src, sha, data = blob(tmp_path, "a", 100_000)
    EncryptedReferenceCache(FilesystemReferenceCache(root, 10_000_000), KEY).put("s", sha, src)
    again = EncryptedReferenceCache(FilesystemReferenceCache(root, 10_000_000), KEY)
    hit = again.open("s", sha)
    assert hit is not None
    with hit as path:
        assert path.read_bytes() == data
    assert again.counters().hits == 1


def test_rotated_key_after_a_restart_purges_old_entries(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    entries = [blob(tmp_path, f"e{i}", 10_000) for i in range(3)]
    old = EncryptedReferenceCache(FilesystemReferenceCache(root, 10_000_000), KEY)
    for src, sha, _ in entries:
        old.put("s", sha, src)
    heard: list[EvictionReason] = []
    inner = FilesystemReferenceCache(root, 10_000_000, on_evict=heard.append)
    rotated = EncryptedReferenceCache(inner, os.urandom(32))
    assert all(rotated.open("s", sha) is None for _, sha, _ in entries)
    assert rotated.counters().misses == 3
    assert rotated.counters().entries == 0
    assert heard == [EvictionReason.UNREADABLE] * 3
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        EncryptedReferenceCache(MemoryReferenceCache(10), b"short")


def test_empty_reference(tmp_path: Path) -> None:
    cache = EncryptedReferenceCache(MemoryReferenceCache(1000), KEY)
    src, sha, _ = blob(tmp_path, "empty", 0)
    cache.put("s", sha, src)
    hit = cache.open("s", sha)
    assert hit is not None
    with hit as path:
        assert path.read_bytes() == b""
