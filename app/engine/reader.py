"""Downloads: rebuild a logical object, verify it, and only then put it in place.

Deltas are decoded against their reference (fetched through the ReferenceProvider by
`dg-ref-sha256`) into a temporary file beside the destination, checked for size and SHA-256
against `dg-file-sha256`, and renamed over the destination. Direct objects carrying a hash are
verified the same way; foreign objects (no metadata) are served as stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from app.domain.files import replacing, scratch_file
from app.domain.hashing import sha256_file
from app.domain.keys import DELTA_SUFFIX, REFERENCE_NAME, DeltaSpace, validate_bucket, validate_key
from app.domain.metadata import CODEC_XDELTA3, CODEC_ZSTD, DeltaInfo, StoredKind, original_size, read_field
from app.engine.codec import DeltaCodec, XDelta3Codec
from app.engine.containers import ContainerReads
from app.engine.expanded import ExpandedReferences
from app.engine.gzip_form import GzipReads, GzipSettings
from app.engine.locate import Located, locate
from app.engine.references import ReferenceProvider
from app.engine.results import ObjectMeta, StoredAs
from app.errors import CodecError, IntegrityError, ObjectNotFound
from app.observability.metrics import Metrics
from app.storage.base import ObjectHead, ObjectStore

log = logging.getLogger(__name__)

_KIND_TO_STORED = {
    StoredKind.DELTA: StoredAs.DELTA,
    StoredKind.DIRECT: StoredAs.DIRECT,
    StoredKind.FOREIGN: StoredAs.FOREIGN,
    StoredKind.REFERENCE: StoredAs.DIRECT,
}


def describe(bucket: str, key: str, head: ObjectHead, kind: StoredKind) -> ObjectMeta:
    """The logical view of one stored representation."""
    sha = read_field(head.metadata, "file_sha256")
    sha = sha.lower() if sha else None
    size = original_size(head.metadata) if kind is not StoredKind.FOREIGN else None
    return ObjectMeta(
        bucket=bucket,
        key=key,
        size=size if size is not None else head.size,
        stored_size=head.size,
        sha256=sha,
        stored_as=_KIND_TO_STORED[kind],
        last_modified=head.last_modified,
        etag=f"sha256:{sha}" if sha else head.etag,
    )


def verify(path: Path, sha256: str, size: int | None, what: str) -> None:
    """Raise IntegrityError unless `path` has `size` bytes (when known) and hashes to `sha256`."""
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise IntegrityError(f"{what}: rebuilt {actual_size} bytes, expected {size}; not served")
    actual = sha256_file(path)
    if actual != sha256:
        raise IntegrityError(f"{what}: SHA-256 {actual} does not match the recorded {sha256}; not served")


def check_readable(bucket: str, found: Located, what: str) -> None:
    """Raise the IntegrityError a GET would, from metadata alone: a `.delta` whose metadata
    does not describe a delta (absent, or naming no usable reference) cannot be rebuilt."""
    if found.kind is StoredKind.DELTA:
        info = DeltaInfo.parse(found.stored_key, found.head.metadata)
        reference_space(bucket, info.ref_key, found.stored_key)
    elif found.stored_key.endswith(DELTA_SUFFIX) and found.kind is StoredKind.FOREIGN:
        raise IntegrityError(f"{what}: {found.stored_key!r} has no delta metadata; cannot rebuild")


def reference_space(bucket: str, ref_key: str, delta_key: str) -> DeltaSpace:
    prefix, _, name = ref_key.rpartition("/")
    if name != REFERENCE_NAME:
        raise IntegrityError(f"delta {delta_key!r} names {ref_key!r}, which is not a {REFERENCE_NAME}")
    return DeltaSpace(bucket, prefix)


class Reader:
    """The `get`/`head` half of the engine. Thread-safe: no mutable state of its own."""

    def __init__(
        self,
        store: ObjectStore,
        references: ReferenceProvider,
        decoders: Mapping[str, DeltaCodec],
        work_dir: Path | None,
        metrics: Metrics,
        *,
        expanded: ExpandedReferences,
        gzip: GzipSettings,
    ) -> None:
        self._store = store
        self._references = references
        self._decoders = dict(decoders)
        self._work_dir = work_dir
        self._metrics = metrics
        self._gzip = GzipReads(expanded, gzip, work_dir)
        self._containers = ContainerReads(expanded, work_dir, gzip.recipe_seconds)

    def head(self, bucket: str, key: str) -> ObjectMeta:
        """What `get` would serve, or the error it would raise from the metadata alone."""
        validate_bucket(bucket)
        validate_key(key)
        found = locate(self._store, bucket, key)
        check_readable(bucket, found, f"s3://{bucket}/{key}")  # HEAD and GET agree (issue 16.8)
        if found.kind is StoredKind.DELTA:
            self._gzip.check_available(found.head.metadata, f"s3://{bucket}/{key}")
        return describe(bucket, key, found.head, found.kind)

    def get(self, bucket: str, key: str, dest: Path) -> ObjectMeta:
        """Write logical `key` to `dest` atomically, verified. Raises NotFound, IntegrityError,
        CodecError, StorageUnavailable; `dest` is untouched on any error."""
        validate_bucket(bucket)
        validate_key(key)
        found = locate(self._store, bucket, key)
        what = f"s3://{bucket}/{key}"
        with replacing(dest) as part:
            if found.kind is StoredKind.DELTA:
                head = self._rebuild(bucket, found, part, what)
            else:
                head = self._fetch(bucket, found, part, what)
        meta = describe(bucket, key, head, found.kind)
        self._metrics.downloads.labels(stored_as=meta.stored_as.value).inc()
        return meta

    def _fetch(self, bucket: str, found: Located, part: Path, what: str) -> ObjectHead:
        check_readable(bucket, found, what)
        head = self._store.get_to_file(bucket, found.stored_key, part) or found.head
        sha = read_field(head.metadata, "file_sha256")
        if sha is not None:
            verify(part, sha.lower(), original_size(head.metadata), what)
        return head

    def _rebuild(self, bucket: str, found: Located, part: Path, what: str) -> ObjectHead:
        with scratch_file(self._work_dir, ".delta") as delta:
            # Parse the metadata of the bytes actually downloaded (the object may have changed
            # since the HEAD), so delta and metadata always belong together.
            head = self._store.get_to_file(bucket, found.stored_key, delta) or found.head
            info = DeltaInfo.parse(found.stored_key, head.metadata)
            space = reference_space(bucket, info.ref_key, found.stored_key)
            decoder = self._decoder(info.codec)
            began = time.perf_counter()
            try:
                if self._containers.handles(head.metadata):
                    self._containers.rebuild(
                        decoder, space, info, head.metadata, delta=delta, part=part, what=what
                    )
                elif self._gzip.handles(head.metadata):
                    self._gzip.rebuild(decoder, space, info, head.metadata, delta=delta, part=part, what=what)
                elif not (
                    self._gzip.rescue(decoder, space, info, delta, part)
                    or self._containers.rescue(decoder, space, info, delta, part)
                ):
                    with self._references.open(space, info.ref_sha256) as reference:
                        decoder.decode(reference, delta, part)
            except ObjectNotFound:
                # The delta exists but its base is gone: data loss, not a missing object.
                log.error("%s: reference %s/%s is missing; delta %s cannot be rebuilt",
                          what, bucket, space.reference_key, found.stored_key)  # fmt: skip
                raise IntegrityError(
                    f"{what}: its reference {space.reference_key!r} is missing; cannot rebuild it"
                ) from None
            self._metrics.codec_seconds.labels(operation="decode").observe(time.perf_counter() - began)
        verify(part, info.file_sha256, info.file_size, what)
        return head

    def _decoder(self, codec: str) -> DeltaCodec:
        found = self._decoders.get(codec)
        if found is not None:
            return found
        if codec == CODEC_XDELTA3:
            return self._decoders.setdefault(codec, XDelta3Codec())
        if codec == CODEC_ZSTD:
            from app.engine.zstd import ZstdPatchCodec  # noqa: PLC0415 - opt-in codec, loaded on first use

            return self._decoders.setdefault(codec, ZstdPatchCodec())
        raise CodecError(f"delta written with codec {codec!r}, which this Glider cannot decode")
