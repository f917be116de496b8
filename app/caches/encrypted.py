"""Encryption at rest for any ReferenceCache: AES-256-GCM in 1 MiB chunks, plaintext only in RAM.

Entry format (stored in the inner cache under ("encrypted:" + space_id, sha256), with the inner
cache's own hash check off, since the bytes are ciphertext):

    header = b"GLDRENC1" | key_id (16) | salt (16) | chunk_size (u32 BE) | plaintext_size (u64 BE)
    then ceil(plaintext_size / chunk_size) chunks (at least one), each AES-GCM(ciphertext + 16-byte tag)

- Each entry is encrypted under its own key, HKDF-SHA256(master key, random salt), so the nonce
  can simply be the chunk counter (12 bytes, big-endian): never reused under one key.
- Every chunk's associated data is header + SHA-256(space_id) + the plaintext digest: chunks cannot
  be reordered, truncated, extended or moved to another entry without failing authentication.
- `key_id` = HMAC-SHA256(master, label)[:16] tells a wrong or rotated key (the entry becomes a miss
  and is purged from the inner cache) from corruption (evicted, IntegrityError).

`open()` decrypts chunk by chunk into a sealed memfd while hashing the plaintext, so a reference
is never whole in the Python heap, never on disk, and the memfd vanishes when the `with` block
exits: no decrypted file ever exists in the cache directory. `put()` encrypts chunk by chunk into a
temporary ciphertext file (in `work_dir`, default the system temp directory) handed to the inner
cache, then removed. Hits and misses are counted here; evictions, entries and bytes (ciphertext)
come from the inner cache, whose eviction listener hears the reasons this wrapper gives.
Thread-safe as far as the inner cache is.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import tempfile
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.caches.base import CacheCounters, ClearResult, EvictionReason, ReferenceCache
from app.caches.keys import KEY_BYTES
from app.caches.lease import FileLease, new_memfd, seal
from app.errors import IntegrityError

_MAGIC = b"GLDRENC1"
_HEADER = struct.Struct(">8s16s16sIQ")
_TAG = 16
_CHUNK = 1024 * 1024
_MAX_CHUNK = 64 * 1024 * 1024
_KEY_ID_LABEL = b"glider reference cache key id v1"
_ENTRY_KEY_INFO = b"glider reference cache entry key v1"
_SPACE_PREFIX = "encrypted:"


class _WrongKey(Exception):
    """The entry was written under another master key."""


def _chunk_count(size: int, chunk: int) -> int:
    return max(1, -(-size // chunk))


class EncryptedReferenceCache(ReferenceCache):
    """Wraps `inner`; `key` is 32 bytes (see `app.caches.keys`), None for a random per-process key."""

    def __init__(
        self, inner: ReferenceCache, key: bytes | None = None, *, work_dir: Path | None = None
    ) -> None:
        if key is None:
            key = os.urandom(KEY_BYTES)
        if len(key) != KEY_BYTES:
            raise ValueError(f"the cache encryption key must be {KEY_BYTES} bytes")
        self._inner = inner
        self._master = key
        self._key_id = hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).digest()[:16]
        self._work_dir = work_dir
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @property
    def inner(self) -> ReferenceCache:
        return self._inner

    def open(self, space_id: str, sha256: str, *, verify: bool = True) -> AbstractContextManager[Path] | None:
        inner_space = _SPACE_PREFIX + space_id
        stored = self._inner.open(inner_space, sha256, verify=False)
        if stored is None:
            self._count(hit=False)
            return None
        try:
            with stored as cipher_path, cipher_path.open("rb") as src:
                fd = self._decrypt(src, space_id, sha256, verify=verify)
        except _WrongKey:
            self._inner.evict(inner_space, sha256, reason=EvictionReason.UNREADABLE)
            self._count(hit=False)
            return None
        except IntegrityError:
            self._inner.evict(inner_space, sha256, reason=EvictionReason.CORRUPT)
            self._count(hit=False)
            raise
        self._count(hit=True)
        return FileLease(fd)

    def put(self, space_id: str, sha256: str, source: Path, *, verify: bool = True) -> None:
        size = source.stat().st_size
        with (
            tempfile.NamedTemporaryFile(prefix="glider-enc-", dir=self._work_dir) as out,
            source.open("rb") as src,
        ):
            self._encrypt(src, out, space_id, sha256, size, verify=verify)
            out.flush()
            self._inner.put(_SPACE_PREFIX + space_id, sha256, Path(out.name), verify=False)

    def evict(self, space_id: str, sha256: str, *, reason: EvictionReason = EvictionReason.REQUESTED) -> bool:
        return self._inner.evict(_SPACE_PREFIX + space_id, sha256, reason=reason)

    def clear(self) -> ClearResult:
        return self._inner.clear()

    def counters(self) -> CacheCounters:
        inner = self._inner.counters()
        with self._lock:
            return CacheCounters(
                hits=self._hits,
                misses=self._misses,
                evictions=inner.evictions,
                entries=inner.entries,
                bytes=inner.bytes,
            )

    # -- internals -------------------------------------------------------------------------------

    def _count(self, *, hit: bool) -> None:
        with self._lock:
            if hit:
                self._hits += 1
            else:
                self._misses += 1

    def _cipher(self, salt: bytes) -> AESGCM:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_ENTRY_KEY_INFO)
        return AESGCM(hkdf.derive(self._master))

    @staticmethod
    def _aad(header: bytes, space_id: str, sha256: str) -> bytes:
        return header + hashlib.sha256(space_id.encode("utf-8")).digest() + sha256.encode("ascii")

    def _encrypt(
        self, src: IO[bytes], out: IO[bytes], space_id: str, sha256: str, size: int, *, verify: bool
    ) -> None:
        salt = os.urandom(16)
        header = _HEADER.pack(_MAGIC, self._key_id, salt, _CHUNK, size)
        aad = self._aad(header, space_id, sha256)
        cipher = self._cipher(salt)
        digest = hashlib.sha256()
        out.write(header)
        count = _chunk_count(size, _CHUNK)
        for index in range(count):
            want = _CHUNK if index < count - 1 else size - _CHUNK * (count - 1)
            block = src.read(want)
            if len(block) != want:
                raise IntegrityError("reference changed while being cached; not cached")
            digest.update(block)
            out.write(cipher.encrypt(index.to_bytes(12, "big"), block, aad))
        if src.read(1):
            raise IntegrityError("reference changed while being cached; not cached")
        if verify and digest.hexdigest() != sha256:
            raise IntegrityError(f"source does not hash to {sha256[:12]}; not cached")

    def _decrypt(self, src: IO[bytes], space_id: str, sha256: str, *, verify: bool) -> int:
        """Decrypt `src` into a new sealed memfd and return it. Raises _WrongKey or IntegrityError."""
        corrupt = IntegrityError(f"cached reference {sha256[:12]} failed verification; evicted")
        header = src.read(_HEADER.size)
        if len(header) != _HEADER.size:
            raise corrupt
        magic, key_id, salt, chunk, size = _HEADER.unpack(header)
        if magic != _MAGIC or not 0 < chunk <= _MAX_CHUNK:
            raise corrupt
        if not hmac.compare_digest(key_id, self._key_id):
            raise _WrongKey
        aad = self._aad(header, space_id, sha256)
        cipher = self._cipher(salt)
        digest = hashlib.sha256()
        fd = new_memfd("glider-reference")
        try:
            with open(fd, "wb", closefd=False) as out:
                count = _chunk_count(size, chunk)
                for index in range(count):
                    want = (chunk if index < count - 1 else size - chunk * (count - 1)) + _TAG
                    sealed = src.read(want)
                    if len(sealed) != want:
                        raise corrupt
                    try:
                        block = cipher.decrypt(index.to_bytes(12, "big"), sealed, aad)
                    except InvalidTag:
                        raise corrupt from None
                    digest.update(block)
                    out.write(block)
            if src.read(1) or (verify and digest.hexdigest() != sha256):
                raise corrupt
            seal(fd)
        except BaseException:
            os.close(fd)
            raise
        return fd
