"""Reading, listing and deleting logical objects for the API, with stats invalidation on delete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.domain.keys import validate_bucket, validate_key
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

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """Read the file in `size` pieces, closing it at the end (or when the iterator is dropped)."""
        try:
            while block := self.file.read(size):
                yield block
        finally:
            self.file.close()

    def close(self) -> None:
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
        validate_bucket(bucket)
        return self.engine.list(bucket, prefix, continuation_token=continuation_token, max_keys=max_keys)

    def delete(self, bucket: str, key: str) -> DeleteResult:
        validate_bucket(bucket)
        validate_key(key)
        result = self.engine.delete(bucket, key)
        self.stats.invalidate(bucket)
        return result
