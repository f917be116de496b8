"""Fingerprints of a bucket listing, whole and per shard.

A bucket's objects are split into `SHARD_COUNT` shards by a stable hash of their deltaspace, so a
deltaspace's reference and deltas always share a shard (estimates stay shard-local) and a typical
change (new builds landing in one deltaspace) touches one shard.

A shard digest covers, in listing (key) order, every object's key, ETag and size. The bucket
fingerprint combines the shard digests with the object count, stored bytes and the newest
LastModified, so an overwrite with an object of the same size (which changes the ETag, or at least
LastModified) is detected, which count + size alone (DeltaGlider's validation) cannot do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

SHARD_COUNT = 64


def deltaspace_of(key: str) -> str:
    """Everything before the last `/` (empty at the bucket root)."""
    return key.rpartition("/")[0]


def shard_of(space: str, shards: int = SHARD_COUNT) -> int:
    """Stable shard number of a deltaspace (the same in every process and Python version)."""
    digest = hashlib.blake2b(space.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % shards


def record_line(key: str, etag: str, size: int) -> bytes:
    """The canonical encoding of one listed object, fed to the shard digest.

    NUL cannot appear in a listed key (XML 1.0 cannot carry it) nor in an ETag, so splitting on
    NUL is unambiguous even for keys holding line breaks.
    """
    return f"{key}\0{etag}\0{size}\0".encode()


class ShardDigests:
    """Incremental per-shard digests; feed objects in listing order. Not thread-safe."""

    __slots__ = ("_hashes",)

    def __init__(self, shards: int = SHARD_COUNT) -> None:
        self._hashes = [hashlib.blake2b(digest_size=16) for _ in range(shards)]

    def update(self, shard: int, line: bytes) -> None:
        self._hashes[shard].update(line)

    def hexdigests(self) -> tuple[str, ...]:
        return tuple(h.hexdigest() for h in self._hashes)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a cached document is validated against. `value` alone decides; the rest is shown."""

    value: str
    object_count: int
    stored_bytes: int
    newest: datetime | None


def combine(
    shard_digests: tuple[str, ...], object_count: int, stored_bytes: int, newest: datetime | None
) -> Fingerprint:
    """The bucket fingerprint from its parts (pure). `object_count` counts every listed object."""
    h = hashlib.blake2b(digest_size=20)
    for digest in shard_digests:
        h.update(digest.encode("ascii"))
    stamp = newest.isoformat() if newest is not None else "-"
    h.update(f"|{object_count}|{stored_bytes}|{stamp}".encode())
    return Fingerprint(f"v1:{h.hexdigest()}", object_count, stored_bytes, newest)
