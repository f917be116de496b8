"""Uploads: decide reference / delta / direct, write it, and keep the bucket consistent.

Candidates (archive suffixes) become the deltaspace's reference or a delta against it; others,
and files whose delta would exceed the max ratio, are stored direct. A gzip/bzip2/xz/compress
stream is never made a reference (nor deltaed against one DeltaGlider made): DeltaGlider 6.2.0
would decompress it before applying our byte-exact `-D` delta (see `policy.expanded_by_xdelta3`),
unless gzip-aware deltas are on and a recompression recipe is proven (`app.engine.containers`,
`app.engine.gzip_writer`).
Every direct store says why (`DirectReason`).

Order of writes, chosen so that an interrupted upload never leaves an object that reads back
wrong (S3 PUTs are atomic with their metadata; a failed multipart upload leaves nothing):
1. `reference.bin` is created with If-None-Match: * — exactly one writer wins a new deltaspace;
   a loser deltas against the winner's reference.
2. The new representation (`<key>.delta` or `<key>`) is written.
3. The reference is re-checked (a concurrent delete of the deltaspace's last file may have
   removed it) and restored from our verified local copy when gone.
4. Then the key is settled to one stored form (`app/engine/settle.py`, which states the race
   and the invariant). Until then reads pick the newest of `K` and `K.delta`
   (`policy.choose_representation`), so a complete version always reads back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from app.domain.files import scratch_file
from app.domain.hashing import sha256_file
from app.domain.keys import (
    DeltaSpace,
    delta_key_for,
    deltaspace_of,
    validate_bucket,
    validate_key,
    validate_stored_length,
)
from app.domain.metadata import CODEC_XDELTA3, delta_metadata, direct_metadata, read_field, reference_metadata
from app.engine.codec import DeltaCodec
from app.engine.container_kinds import is_compressed
from app.engine.containers import prepare_compressed
from app.engine.deltaspaces import drop_reference_if_unused
from app.engine.expanded import ExpandedReferences
from app.engine.gzip_form import GzipSettings
from app.engine.gzip_writer import GzipWriter, LocalCopy
from app.engine.locate import head_or_none
from app.engine.policy import accept_delta, expanded_by_xdelta3, wants_delta
from app.engine.references import ReferenceProvider
from app.engine.results import DirectReason, Form, PutResult, StoredAs
from app.engine.settle import settle
from app.engine.upload_file import Upload
from app.errors import AlreadyExists, EmptyFile, GliderError, InvalidInput
from app.observability.metrics import Metrics
from app.storage.base import ObjectHead, ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """`gzip`: settings of gzip-aware deltas, None to keep to deltaglider 6.2.0's forms."""

    max_ratio: float
    extensions: tuple[str, ...]
    work_dir: Path | None
    tool: str
    gzip: GzipSettings | None = None


class Writer:
    """The `put` half of the engine. Thread-safe: no mutable state of its own."""

    def __init__(
        self,
        store: ObjectStore,
        codec: DeltaCodec,
        references: ReferenceProvider,
        policy: WritePolicy,
        metrics: Metrics,
        *,
        expanded: ExpandedReferences,
    ) -> None:
        self._store = store
        self._codec = codec
        self._references = references
        self._policy = policy
        self._metrics = metrics
        self._gzip = GzipWriter(
            self, store, codec, references, expanded=expanded, tool=policy.tool, metrics=metrics
        )

    @property
    def max_ratio(self) -> float:
        return self._policy.max_ratio

    @property
    def work_dir(self) -> Path | None:
        return self._policy.work_dir

    def put(self, bucket: str, key: str, path: Path, sha256: str | None = None) -> PutResult:
        """Store `path` as logical `key`. Raises InvalidInput/ReservedKey/EmptyFile for bad input.

        An empty file is refused (EmptyFile): a zero-byte build artifact is almost always a
        failed build, and storing it would hide that.
        """
        validate_bucket(bucket)
        validate_key(key)
        candidate = wants_delta(key, self._policy.extensions)
        validate_stored_length(key, delta_candidate=candidate)  # a clear 400 before any write
        try:
            size = path.stat().st_size
        except OSError as err:
            raise InvalidInput(f"cannot read {path}: {err.strerror}") from None
        if size == 0:
            raise EmptyFile(f"refusing to store an empty file as s3://{bucket}/{key} (0 bytes)")
        upload = Upload(bucket, key, path, (sha256 or sha256_file(path)).lower(), size)
        if candidate:
            result = self._put_candidate(upload)
        else:
            result = self.put_direct(upload, DirectReason.NOT_A_CANDIDATE)
        # One stored form per key whatever concurrent writers do (see app/engine/settle.py).
        return settle(self._store, result, lambda: self.put_direct(upload, DirectReason.CONCURRENT_WRITERS))

    # -- the three ways to store a file --------------------------------------------------------

    def _unreadable_reference(self, reference: Path) -> bool:
        """True when DeltaGlider could not decode our deltas against `reference` (see policy)."""
        if self._codec.name != CODEC_XDELTA3:
            return False  # an opt-in codec is not DeltaGlider-readable anyway
        with reference.open("rb") as fh:
            return expanded_by_xdelta3(fh.read(8))

    def _put_candidate(self, up: Upload) -> PutResult:
        space = deltaspace_of(up.bucket, up.key)
        ref = head_or_none(self._store, up.bucket, space.reference_key)
        gzip = self._policy.gzip
        if gzip is None or not is_compressed(up.path):
            return self.put_plain(up, space, ref)
        with prepare_compressed(up, gzip, self._policy.work_dir, first_version=ref is None) as content:
            done = None if content is None else self._gzip.put_content(up, space, ref, content)
            if done is not None:
                return done
        result = self.put_plain(up, space, ref)
        if result.reason is DirectReason.COMPRESSED_STREAM:
            return replace(result, reason=DirectReason.NO_EXACT_RECIPE)
        return result

    def put_plain(self, up: Upload, space: DeltaSpace, ref: ObjectHead | None) -> PutResult:
        """deltaglider 6.2.0's forms: a reference, a byte-level delta, or direct."""
        if ref is None and self._unreadable_reference(up.path):
            return self.put_direct(up, DirectReason.COMPRESSED_STREAM)
        if ref is None:
            meta = reference_metadata(self._policy.tool, up.name, up.sha256)
            try:
                self._store.put_file(up.bucket, space.reference_key, up.path, meta, if_none_match=True)
            except AlreadyExists:
                log.info("lost the race to create %s/%s; using the winner's", up.bucket, space.reference_key)
                ref = self._store.head(up.bucket, space.reference_key)
            else:
                self._references.seed(space, up.sha256, up.path)
                return self.put_identity(up, space, created_reference=True)
        ref_sha = self.reference_sha(up, ref)
        if ref_sha is None:
            return self.put_direct(up, DirectReason.REFERENCE_UNUSABLE)
        if ref_sha == up.sha256:
            if self._unreadable_reference(up.path):
                return self.put_direct(up, DirectReason.COMPRESSED_STREAM)
            return self.put_identity(up, space, created_reference=False)
        with self._references.open(space, ref_sha) as ref_path:
            if self._unreadable_reference(ref_path):
                return self.put_direct(up, DirectReason.COMPRESSED_STREAM)
            return self._put_delta(up, space, ref_sha, ref_path)

    def reference_sha(self, up: Upload, ref: ObjectHead) -> str | None:
        """The reference's dg-file-sha256 (lower-case), None (logged) when it has none."""
        ref_sha = read_field(ref.metadata, "file_sha256")
        if ref_sha is None:
            log.warning("%s/%s has no dg-file-sha256; storing direct", up.bucket, ref.key)
        return ref_sha.lower() if ref_sha else None

    def drop_fresh_reference(self, space: DeltaSpace) -> None:
        """Best-effort cleanup after a failed first upload; the original error is what matters."""
        try:
            dropped = drop_reference_if_unused(self._store, space)
        except GliderError as err:
            log.error(
                "could not remove %s/%s after a failed upload: %s", space.bucket, space.reference_key, err
            )
            return
        if dropped:
            log.warning("removed %s/%s created by a failed upload", space.bucket, space.reference_key)

    def put_identity(self, up: Upload, space: DeltaSpace, *, created_reference: bool) -> PutResult:
        """The file equals the reference: the zero-diff delta, no diffing needed. When this upload
        just `created_reference`, a failure removes that reference again (plain and gzip forms)."""
        if not created_reference:
            return self._identity(up, space, created_reference=False)
        try:
            return self._identity(up, space, created_reference=True)
        except BaseException:
            # Never leave the reference we just created without the delta that needs it.
            self.drop_fresh_reference(space)
            raise

    def _identity(self, up: Upload, space: DeltaSpace, *, created_reference: bool) -> PutResult:
        with scratch_file(self._policy.work_dir, ".delta") as delta:
            self._codec.encode_identity(up.path, delta)
            if not created_reference and not accept_delta(
                delta.stat().st_size, up.size, self._policy.max_ratio
            ):
                return self.put_direct(up, DirectReason.TOO_SMALL)  # its delta is no smaller than itself
            stored_as = StoredAs.REFERENCE if created_reference else StoredAs.DELTA
            result = self.store_delta(up, space, up.sha256, delta, stored_as, zero_diff=True)
        if not self.confirm_reference(space, up.sha256, lambda: nullcontext(up.path), up.name):
            return self.replace_delta_with_direct(up)
        return result

    def _put_delta(self, up: Upload, space: DeltaSpace, ref_sha: str, ref_path: Path) -> PutResult:
        limit = int(self._policy.max_ratio * up.size)
        with scratch_file(self._policy.work_dir, ".delta") as delta:
            began = time.perf_counter()
            kept = self._codec.encode(ref_path, up.path, delta, size_limit=limit)
            self._metrics.codec_seconds.labels(operation="encode").observe(time.perf_counter() - began)
            if not kept or not accept_delta(delta.stat().st_size, up.size, self._policy.max_ratio):
                return self.over_ratio(up)
            result = self.store_delta(up, space, ref_sha, delta, StoredAs.DELTA, zero_diff=False)
        if not self.confirm_reference(space, ref_sha, lambda: nullcontext(ref_path), up.name):
            return self.replace_delta_with_direct(up)
        return result

    def over_ratio(self, up: Upload) -> PutResult:
        log.info(
            "delta for %s/%s over max ratio %.2f; storing direct", up.bucket, up.key, self._policy.max_ratio
        )
        return self.put_direct(up, DirectReason.RATIO_ABOVE_MAX)

    def put_direct(self, up: Upload, reason: DirectReason) -> PutResult:
        meta = direct_metadata(self._policy.tool, up.name, up.sha256, up.size)
        self._store.put_file(up.bucket, up.key, up.path, meta)
        return PutResult(
            up.bucket, up.key, StoredAs.DIRECT, up.size, up.size, up.sha256, up.key, reason=reason
        )

    # -- helpers -------------------------------------------------------------------------------

    def store_delta(
        self,
        up: Upload,
        space: DeltaSpace,
        ref_sha: str,
        delta: Path,
        stored_as: StoredAs,
        *,
        zero_diff: bool,
        form: Mapping[str, str] | None = None,
    ) -> PutResult:
        """Write `delta` as `<key>.delta`; `form`: extra metadata of a non-plain delta form."""
        delta_size = delta.stat().st_size
        meta = delta_metadata(
            tool=self._policy.tool,
            original_name=up.name,
            sha256=up.sha256,
            size=up.size,
            ref_key=space.reference_key,
            ref_sha256=ref_sha,
            delta_size=delta_size,
            codec=self._codec.name,
            command=self._codec.command_line(up.name),
            zero_diff=zero_diff,
        ) | dict(form or {})
        stored_key = delta_key_for(up.key)
        self._store.put_file(up.bucket, stored_key, delta, meta)
        reference_size = up.size if stored_as is StoredAs.REFERENCE else 0
        return PutResult(
            up.bucket, up.key, stored_as, up.size, delta_size, up.sha256, stored_key, reference_size,
            form=Form(form["dg-form"]) if form else Form.PLAIN,
        )  # fmt: skip

    def confirm_reference(self, space: DeltaSpace, ref_sha: str, local_copy: LocalCopy, name: str) -> bool:
        """True when `space`'s reference still has `ref_sha` (restored from `local_copy()` if gone)."""
        ref = head_or_none(self._store, space.bucket, space.reference_key)
        if ref is None:
            meta = reference_metadata(self._policy.tool, name, ref_sha)
            try:
                with local_copy() as path:
                    self._store.put_file(space.bucket, space.reference_key, path, meta, if_none_match=True)
                log.warning("restored %s/%s deleted during an upload", space.bucket, space.reference_key)
                return True
            except AlreadyExists:
                ref = self._store.head(space.bucket, space.reference_key)
        return (read_field(ref.metadata, "file_sha256") or "").lower() == ref_sha

    def replace_delta_with_direct(self, up: Upload) -> PutResult:
        log.warning("reference of %s/%s changed under the upload; storing direct", up.bucket, up.key)
        return self.put_direct(up, DirectReason.REFERENCE_CHANGED)  # `settle` removes our older delta
