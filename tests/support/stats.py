"""Helpers for stats tests: write wire-format objects straight into a store, and compute the
expected figures independently of `app.stats` (from what the test itself wrote); and one check of
detailed stats over a bucket the engine filled (the gzip and bzip2/xz forms' tests)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from app.domain.keys import INTERNAL_PREFIX
from app.domain.metadata import delta_metadata, direct_metadata, reference_metadata
from app.engine.results import StoredAs
from app.services.stats import StatsService
from app.stats.model import BucketStats
from app.storage.base import ObjectStore


@dataclass
class WireBucket:
    """Writes a bucket in the DeltaGlider wire format and remembers what it wrote."""

    store: ObjectStore
    bucket: str
    tool: str = "glider-test/0"
    # key -> (stored size, original size, kind) of everything written and not deleted
    objects: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    def reference(self, space: str, size: int) -> str:
        key = f"{space}/reference.bin" if space else "reference.bin"
        data = os.urandom(size)
        meta = reference_metadata(self.tool, "seed.zip", hashlib.sha256(data).hexdigest())
        self.store.put_bytes(self.bucket, key, data, meta)
        self.objects[key] = (size, size, "reference")
        return key

    def delta(self, key: str, stored: int, original: int) -> str:
        """`key` is the logical key; the `.delta` object is written. Returns the stored key."""
        space = key.rpartition("/")[0]
        ref_key = f"{space}/reference.bin" if space else "reference.bin"
        data = os.urandom(stored)
        meta = delta_metadata(
            tool=self.tool,
            original_name=key.rpartition("/")[2],
            sha256=hashlib.sha256(data).hexdigest(),
            size=original,
            ref_key=ref_key,
            ref_sha256="0" * 64,
            delta_size=stored,
            codec="xdelta3",
            command="xdelta3 -e",
            zero_diff=False,
        )
        stored_key = key + ".delta"
        self.store.put_bytes(self.bucket, stored_key, data, meta)
        self.objects[stored_key] = (stored, original, "delta")
        return stored_key

    def direct(self, key: str, size: int) -> str:
        data = os.urandom(size)
        meta = direct_metadata(self.tool, key.rpartition("/")[2], hashlib.sha256(data).hexdigest(), size)
        self.store.put_bytes(self.bucket, key, data, meta)
        self.objects[key] = (size, size, "direct")
        return key

    def delete(self, key: str) -> None:
        self.store.delete(self.bucket, key)
        del self.objects[key]

    def expected(self) -> dict[str, int]:
        """The eight figures' integer parts, computed from what was written."""
        deltas = [v for v in self.objects.values() if v[2] == "delta"]
        directs = [v for v in self.objects.values() if v[2] == "direct"]
        stored = sum(v[0] for v in self.objects.values())
        original = sum(v[1] for v in deltas) + sum(v[1] for v in directs)
        return {
            "object_count": len(deltas) + len(directs),
            "delta_objects": len(deltas),
            "direct_objects": len(directs),
            "compressed_size": stored,
            "total_size": original,
            "space_saved": max(0, original - stored),
        }


def figures(stats: BucketStats) -> dict[str, int]:
    """The same integer figures from a BucketStats."""
    return {
        "object_count": stats.object_count,
        "delta_objects": stats.delta_objects,
        "direct_objects": stats.direct_objects,
        "compressed_size": stats.compressed_size,
        "total_size": stats.total_size,
        "space_saved": stats.space_saved,
    }


def assert_stats_count_the_bucket(
    store: ObjectStore, bucket: str, uploads: dict[str, bytes], kinds: list[StoredAs]
) -> None:
    """Detailed stats (cache off) of a bucket the test filled through the engine, against what is
    stored and what was sent: the bucket's bytes (its stats documents aside), the uploads' total
    size and count, and one delta object for each upload `kinds` says was not stored direct
    (references and zero-diffs included)."""
    stored = sum(o.size for o in store.iter_objects(bucket) if not o.key.startswith(INTERNAL_PREFIX))
    stats = StatsService(store).get(bucket, "detailed", use_cache=False).stats
    assert stats.compressed_size == stored
    assert stats.total_size == sum(map(len, uploads.values()))
    assert stats.object_count == len(uploads)
    assert stats.delta_objects == sum(k is not StoredAs.DIRECT for k in kinds)
