"""Uploads: spool a request body to disk while hashing it, check it, hand it to the engine.

The HTTP layer feeds chunks into an `UploadSession` (memory stays bounded by one chunk); the
session enforces the size limit as bytes arrive, compares the caller's declared SHA-256 before
anything is stored, and counts the failures that happen before the engine (which counts its own
outcomes). Blocking; one session per request.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from app.domain.keys import validate_bucket, validate_key
from app.engine.engine import DeltaEngine
from app.engine.results import PutResult
from app.errors import ChecksumMismatch, GliderError, InvalidInput, PayloadTooLarge
from app.observability.metrics import Metrics
from app.services.stats import StatsService

_HEX = frozenset("0123456789abcdef")


def normalise_sha256(declared: str | None) -> str | None:
    """Lower-case hex SHA-256 from a header value, or None; InvalidInput when malformed."""
    if declared is None or not declared.strip():
        return None
    text = declared.strip().lower().removeprefix("sha256:")
    if len(text) != 64 or not set(text) <= _HEX:
        raise InvalidInput("X-Content-SHA256 must be 64 hexadecimal characters")
    return text


class UploadSession:
    """One upload in flight: `write()` chunks, then `commit()`; use as a context manager.

    Leaving the block deletes the spooled file whatever happened, and counts an error raised
    before the engine took over (size limit, checksum, a broken body) in
    `dg_upload_errors_total{error}`.
    """

    def __init__(
        self, service: UploadService, bucket: str, key: str, declared_sha256: str | None, spool: Path
    ) -> None:
        self._service = service
        self.bucket = bucket
        self.key = key
        self._declared = declared_sha256
        self._path = spool
        self._file: BinaryIO | None = spool.open("wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self._in_engine = False

    def write(self, chunk: bytes) -> None:
        """Append `chunk`; PayloadTooLarge as soon as the total passes the limit."""
        if self._file is None:
            raise InvalidInput("upload already finished")
        self.size += len(chunk)
        if self.size > self._service.max_bytes:
            raise PayloadTooLarge(f"upload is larger than the {self._service.max_bytes}-byte limit")
        self._file.write(chunk)
        self._hash.update(chunk)

    def commit(self) -> PutResult:
        """Verify the declared checksum, then store through the engine (nothing stored on mismatch)."""
        if self._file is None:
            raise InvalidInput("upload already finished")
        self._file.close()
        self._file = None
        actual = self._hash.hexdigest()
        if self._declared is not None and self._declared != actual:
            raise ChecksumMismatch(
                f"X-Content-SHA256 is {self._declared} but the received bytes hash to {actual}"
            )
        self._in_engine = True  # from here on, failures are the engine's to count
        return self._service.store(self.bucket, self.key, self._path, actual)

    def __enter__(self) -> UploadSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)
        if exc is not None and not self._in_engine:
            name = type(exc).__name__ if isinstance(exc, GliderError) else "Unexpected"
            self._service.metrics.upload_errors.labels(name).inc()


class UploadService:
    """Receives files for the engine. Thread-safe: sessions share nothing but metrics."""

    def __init__(
        self,
        engine: DeltaEngine,
        stats: StatsService,
        metrics: Metrics,
        *,
        max_bytes: int,
        work_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        self.stats = stats
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.work_dir = work_dir

    def begin(
        self,
        bucket: str,
        key: str,
        declared_sha256: str | None = None,
        least_size: int | None = None,
    ) -> UploadSession:
        """Validate the target (InvalidInput / ReservedKey) and, when the caller knows the file is
        at least `least_size` bytes, the limit (PayloadTooLarge), before any byte is read."""
        try:
            validate_bucket(bucket)
            validate_key(key)
            self.engine.check_storable(key)  # too long a `.delta`/reference name: 400 before the body
            declared = normalise_sha256(declared_sha256)
            if least_size is not None and least_size > self.max_bytes:
                raise PayloadTooLarge(f"upload is larger than the {self.max_bytes}-byte limit")
        except GliderError as err:
            self.metrics.upload_errors.labels(type(err).__name__).inc()
            raise
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="glider-upload-", suffix=".part", dir=self.work_dir)
        os.close(fd)
        return UploadSession(self, bucket, key, declared, Path(name))

    def store(self, bucket: str, key: str, path: Path, sha256: str) -> PutResult:
        """Store a complete local file whose SHA-256 is known, then invalidate the bucket's stats.

        The engine counts `dg_uploads_total`, `dg_upload_bytes_total`, `dg_upload_ratio` and its
        own failures in `dg_upload_errors_total`; the session counts the failures before it.
        """
        result = self.engine.put(bucket, key, path, sha256=sha256)
        self.stats.invalidate(bucket)
        return result
