"""One pass over a bucket listing: counts, stored bytes, references, fingerprint, delta records.

Fed page by page as the LIST arrives. Memory: each direct object costs 8 bytes (a hash of its
key, to find twins); each delta keeps one packed line (`key NUL etag NUL size NUL`, about
len(key) + 45 bytes) in its shard's bytearray until the computation decodes that shard;
references keep one dict entry per deltaspace. For one million deltas with 60-byte keys that is
about 110 MB, against the 350+ MB that one Python object per key would cost.

Twins: while a writer switches a key between delta and direct (or after one died in between),
both `K` and `K.delta` are listed. They are one object, so `finish` counts the key once, as its
direct form (whose original size the LIST already tells; the delta's would need a HEAD). The
twin's stored bytes stay in `stored_bytes`: they are in the bucket until the next write of K
settles it. Twins share a deltaspace, hence a shard, and are matched per shard in any listing
order.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Iterator
from datetime import datetime

from app.domain.keys import DELTA_SUFFIX, INTERNAL_PREFIX, REFERENCE_NAME
from app.stats.fingerprint import SHARD_COUNT, Fingerprint, ShardDigests, combine, record_line, shard_of
from app.storage.base import ObjectInfo

_REF_TAIL = "/" + REFERENCE_NAME


def _key_id(key: str) -> int:
    """64-bit hash of a logical key (collisions between twins' shards: about 1 in 2^64)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


class Census:
    """Accumulates one LIST. Not thread-safe: feed it from the thread that reads the pages."""

    def __init__(self, shards: int = SHARD_COUNT) -> None:
        self.shards = shards
        self.listed = 0  # every object outside .deltaglider/ (references included)
        self.stored_bytes = 0
        self.delta_objects = 0
        self.direct_objects = 0
        self.direct_bytes = 0
        self.newest: datetime | None = None
        self.references: dict[str, int] = {}
        self.delta_counts = [0] * shards
        self.twins = 0  # `.delta` objects not counted because their direct form is also listed
        self._lines = [bytearray() for _ in range(shards)]
        self._direct_ids = [array("Q") for _ in range(shards)]
        self._digests = ShardDigests(shards)
        self._last_space: str | None = None
        self._last_shard = 0

    def add(self, objects: Iterable[ObjectInfo]) -> int:
        """Account for listed objects; return how many were counted (internal ones are skipped)."""
        counted = 0
        for obj in objects:
            key = obj.key
            if key.startswith(INTERNAL_PREFIX):
                continue
            counted += 1
            space = key.rpartition("/")[0]
            # Listings are in key order, so consecutive keys mostly share a deltaspace.
            if space != self._last_space:
                self._last_space = space
                self._last_shard = shard_of(space, self.shards)
            shard = self._last_shard
            line = record_line(key, obj.etag, obj.size)
            self._digests.update(shard, line)
            size = obj.size
            self.stored_bytes += size
            if key.endswith(DELTA_SUFFIX):
                self.delta_objects += 1
                self.delta_counts[shard] += 1
                self._lines[shard] += line
            elif key == REFERENCE_NAME or key.endswith(_REF_TAIL):
                self.references[space] = size
            else:
                self.direct_objects += 1
                self.direct_bytes += size
                self._direct_ids[shard].append(_key_id(key))
            if self.newest is None or obj.last_modified > self.newest:
                self.newest = obj.last_modified
        self.listed += counted
        return counted

    def finish(self) -> None:
        """Call once after the last page: drop from the delta counts every `.delta` whose
        direct twin was also listed (see the module docstring). Digests are unaffected."""
        for shard in range(self.shards):
            ids = self._direct_ids[shard]
            self._direct_ids[shard] = array("Q")
            if not ids or not self.delta_counts[shard]:
                continue
            directs = set(ids)
            kept = bytearray()
            for key, etag, size in self.deltas(shard):
                if _key_id(key.removesuffix(DELTA_SUFFIX)) in directs:
                    self.twins += 1
                    self.delta_objects -= 1
                    self.delta_counts[shard] -= 1
                else:
                    kept += record_line(key, etag, size)
            self._lines[shard] = kept

    def shard_digests(self) -> tuple[str, ...]:
        return self._digests.hexdigests()

    def fingerprint(self) -> Fingerprint:
        return combine(self.shard_digests(), self.listed, self.stored_bytes, self.newest)

    def deltas(self, shard: int) -> Iterator[tuple[str, str, int]]:
        """The shard's deltas as (key, etag, stored size), in listing order."""
        fields = bytes(self._lines[shard]).decode("utf-8").split("\0")
        for i in range(0, len(fields) - 1, 3):
            yield fields[i], fields[i + 1], int(fields[i + 2])

    def release(self, shard: int) -> None:
        """Free a shard's packed records once it has been processed."""
        self._lines[shard] = bytearray()
