"""DeltaEngine: put / get / head / list / delete of logical objects in the DeltaGlider 6.x format.

The facade over Writer (uploads), Reader (verified downloads), the logical listing and
deletion. Blocking and thread-safe; call it from a thread pool in async code.

Deleting a logical key removes every representation of it; when that was the last delta of its
deltaspace the reference.bin goes with it. A reference cannot be deleted through `delete` (its
name is reserved for user keys); `delete_reference` deletes one on purpose and refuses while
deltas still need it (ReferenceInUse).
"""

from __future__ import annotations

import logging
from pathlib import Path

from app import TOOL_NAME
from app.caches.base import ClearResult
from app.domain.keys import (
    DEFAULT_DELTA_EXTENSIONS,
    DeltaSpace,
    delta_key_for,
    deltaspace_of,
    validate_bucket,
    validate_key,
    validate_stored_length,
)
from app.engine.codec import DeltaCodec
from app.engine.deltaspaces import delete_reference, drop_reference_if_unused
from app.engine.expanded import ExpandedReferences
from app.engine.gzip_form import GzipSettings
from app.engine.gzip_stream import DEFAULT_MAX_EXPANDED, DEFAULT_MAX_RATIO, ExpandLimits
from app.engine.listing import list_logical
from app.engine.locate import head_or_none, raise_missing
from app.engine.node_zlib import NodeSource, no_node
from app.engine.policy import wants_delta
from app.engine.reader import Reader
from app.engine.references import ReferenceProvider
from app.engine.results import DeleteResult, LogicalPage, ObjectMeta, PutResult
from app.engine.writer import WritePolicy, Writer
from app.errors import GliderError, InvalidInput
from app.observability.metrics import Metrics
from app.storage.base import ObjectStore

log = logging.getLogger(__name__)


class DeltaEngine:
    """Stores files as reference / delta / direct objects and reads them back verified.

    `max_ratio`: a delta larger than this fraction of its file is dropped and the file stored
    direct. `delta_extensions`: file-name suffixes that are delta candidates. `work_dir`:
    temporary deltas and downloads (system temp when None). `gzip`: gzip-aware deltas
    (None keeps to the forms deltaglider 6.2.0 reads byte-exact; reading them always works).
    """

    def __init__(
        self,
        store: ObjectStore,
        codec: DeltaCodec,
        references: ReferenceProvider,
        *,
        max_ratio: float = 0.5,
        delta_extensions: tuple[str, ...] = DEFAULT_DELTA_EXTENSIONS,
        work_dir: Path | None = None,
        tool: str = TOOL_NAME,
        metrics: Metrics | None = None,
        gzip: GzipSettings | None = None,
        gzip_node: NodeSource = no_node,
    ) -> None:
        if not 0 < max_ratio <= 1:
            raise InvalidInput(f"max_ratio must be in (0, 1], got {max_ratio}")
        self._store = store
        self._references = references
        self._metrics = metrics or Metrics()
        self._extensions = tuple(delta_extensions)
        policy = WritePolicy(max_ratio, self._extensions, work_dir, tool, gzip)
        # Reading gzip-aware deltas needs limits even when writing them is off.
        read_gzip = gzip or GzipSettings(
            ExpandLimits(DEFAULT_MAX_EXPANDED, DEFAULT_MAX_RATIO), 10.0, gzip_node
        )
        expanded = ExpandedReferences(references, read_gzip.limits, work_dir)
        self._writer = Writer(store, codec, references, policy, self._metrics, expanded=expanded)
        self._reader = Reader(
            store, references, {codec.name: codec}, work_dir, self._metrics, expanded=expanded, gzip=read_gzip
        )

    def put(self, bucket: str, key: str, path: Path, *, sha256: str | None = None) -> PutResult:
        """Upload `path` as `key`; `sha256`, when given, is trusted (the caller hashed while spooling)."""
        try:
            result = self._writer.put(bucket, key, path, sha256)
        except GliderError as err:
            self._metrics.upload_errors.labels(error=type(err).__name__).inc()
            raise
        reason = result.reason.value if result.reason is not None else "none"
        self._metrics.uploads.labels(stored_as=result.stored_as.value, reason=reason).inc()
        self._metrics.upload_bytes.labels(kind="original").inc(result.original_size)
        self._metrics.upload_bytes.labels(kind="stored").inc(result.stored_size + result.reference_size)
        self._metrics.upload_ratio.observe(result.stored_size / result.original_size)
        log.info(
            "put %s/%s stored_as=%s form=%s reason=%s original=%d stored=%d",
            bucket, key, result.stored_as.value, result.form.value, reason, result.original_size,
            result.stored_size,
        )  # fmt: skip
        return result

    def check_storable(self, key: str) -> None:
        """InvalidInput when a name `put(key)` would store is too long: lets a caller refuse an
        upload before reading its body (`put` checks again)."""
        validate_stored_length(key, delta_candidate=wants_delta(key, self._extensions))

    def get(self, bucket: str, key: str, dest: Path) -> ObjectMeta:
        """Rebuild `key` into `dest`, verified before `dest` is (atomically) replaced."""
        return self._reader.get(bucket, key, dest)

    def head(self, bucket: str, key: str) -> ObjectMeta:
        return self._reader.head(bucket, key)

    def list(
        self,
        bucket: str,
        prefix: str = "",
        continuation_token: str | None = None,
        max_keys: int = 1000,
        *,
        detailed: bool = False,
    ) -> LogicalPage:
        """One page of logical objects; see `app.engine.listing` for order and size rules."""
        return list_logical(self._store, bucket, prefix, continuation_token, max_keys, detailed=detailed)

    def delete(self, bucket: str, key: str) -> DeleteResult:
        """Delete every representation of `key` (and an unused reference). ObjectNotFound if none."""
        validate_bucket(bucket)
        validate_key(key)
        deleted: list[str] = []
        delta_key = delta_key_for(key)
        found_delta = head_or_none(self._store, bucket, delta_key) is not None
        found_direct = head_or_none(self._store, bucket, key) is not None
        if not (found_delta or found_direct):
            raise_missing(self._store, bucket, key)
        if found_direct:
            self._store.delete(bucket, key)
            deleted.append(key)
        if found_delta:
            self._store.delete(bucket, delta_key)
            deleted.append(delta_key)
            deleted.extend(drop_reference_if_unused(self._store, deltaspace_of(bucket, key)))
        log.info("deleted %s/%s: %s", bucket, key, ", ".join(deleted))
        return DeleteResult(bucket, key, tuple(deleted))

    def delete_reference(self, bucket: str, prefix: str) -> DeleteResult:
        """Delete the reference.bin of deltaspace `prefix`; ReferenceInUse while deltas need it."""
        validate_bucket(bucket)
        space = DeltaSpace(bucket, prefix.strip("/"))
        return DeleteResult(bucket, space.reference_key, delete_reference(self._store, space))

    def clear_cache(self) -> ClearResult:
        """Drop every cached reference not currently in use."""
        return self._references.clear()
