"""One pass over a bucket listing: counts, stored bytes, references, fingerprint, delta records.

Fed page by page as the LIST arrives. Memory: direct objects cost nothing per object; each delta
keeps one packed line (`key NUL etag NUL size NUL`, about len(key) + 45 bytes) in its shard's
bytearray until the computation decodes that shard; references keep one dict entry per
deltaspace. For one million deltas with 60-byte keys that is about 110 MB, against the 350+ MB
that one Python object per key would cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from app.domain.keys import DELTA_SUFFIX, INTERNAL_PREFIX, REFERENCE_NAME
from app.stats.fingerprint import SHARD_COUNT, Fingerprint, ShardDigests, combine, record_line, shard_of
from app.storage.base import ObjectInfo

_REF_TAIL = "/" + REFERENCE_NAME


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
        self._lines = [bytearray() for _ in range(shards)]
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
            if self.newest is None or obj.last_modified > self.newest:
                self.newest = obj.last_modified
        self.listed += counted
        return counted

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
