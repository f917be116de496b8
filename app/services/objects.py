"""Reading, listing and deleting logical objects for the API, with stats invalidation on delete."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from app.domain.keys import delta_key_for, validate_bucket, validate_key
from app.engine.engine import DeltaEngine
from app.engine.results import DeleteResult, LogicalPage, ObjectMeta
from app.services.stats import StatsService

CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Download:
    """Verified bytes of one object in an already-unlinked temp file: nothing to clean up but
    the handle, and the disk space returns even if the reader is abandoned half-way."""

    meta: ObjectMeta
    file: BinaryIO

    def read(self, size: int = CHUNK) -> bytes:
        """The next block of at most `size` bytes; empty at the end. Blocking."""
        return self.file.read(size)

    def close(self) -> None:
        """Release the handle (and so the disk space); idempotent."""
        self.file.close()


class ObjectService:
    """Thin use cases over the engine. Blocking, thread-safe."""

    def __init__(self, engine: DeltaEngine, stats: StatsService, *, work_dir: Path | None = None) -> None:
        self.engine = engine
        self.stats = stats
        self.work_dir = work_dir

    def download(self, bucket: str, key: str) -> Download:
        """Rebuild and verify `key`; the returned handle is the only reference to the bytes."""
        validate_bucket(bucket)
        validate_key(key)
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="glider-get-", dir=self.work_dir)
        os.close(fd)
        path = Path(name)
        try:
            meta = self.engine.get(bucket, key, path)
            handle = path.open("rb")
        finally:
            path.unlink(missing_ok=True)
        return Download(meta, handle)

    def head(self, bucket: str, key: str) -> ObjectMeta:
        validate_bucket(bucket)
        validate_key(key)
        return self.engine.head(bucket, key)

    def list(
        self, bucket: str, prefix: str = "", continuation_token: str | None = None, max_keys: int = 1000
    ) -> LogicalPage:
        """A listing page whose delta sizes come from the stats index where it knows them (no
        HEAD per object); the rest stay None, never the stored size."""
        validate_bucket(bucket)
        page = self.engine.list(bucket, prefix, continuation_token=continuation_token, max_keys=max_keys)
        unknown = {delta_key_for(m.key): m for m in page.objects if m.size is None}
        if not unknown:
            return page
        known = self.stats.known_originals(bucket, [(k, m.etag, m.stored_size) for k, m in unknown.items()])
        sizes = {unknown[k].key: size for k, size in known.items()}
        objects = tuple(replace(m, size=sizes.get(m.key, m.size)) for m in page.objects)
        return replace(page, objects=objects)

    def delete(self, bucket: str, key: str) -> DeleteResult:
        validate_bucket(bucket)
        validate_key(key)
        result = self.engine.delete(bucket, key)
        self.stats.invalidate(bucket)
        return result
