"""Uploads of compressed streams (gzip, bzip2, xz) that have a proven recipe: reference or content delta.

The writer (`app.engine.writer`) decides that an upload takes this path; the steps here reuse its
ordering rules (conditional reference creation, delta written before the reference is
re-checked). A first version becomes `reference.bin` as its compressed bytes; its content is
cached locally only. A later version is stored as the VCDIFF between the decompressed reference
and its own content, with its recipe and header in `dg-gzip-*` metadata.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Protocol

from app.domain.files import scratch_file
from app.domain.gzip_metadata import reference_raw_sha256
from app.domain.keys import DeltaSpace
from app.domain.metadata import reference_metadata
from app.engine.codec import DeltaCodec, XDelta3Codec
from app.engine.content_delta import PreparedContent
from app.engine.expanded import ExpandedReferences
from app.engine.policy import accept_delta
from app.engine.references import ReferenceProvider
from app.engine.results import PutResult, StoredAs
from app.engine.upload_file import Upload
from app.errors import AlreadyExists
from app.observability.metrics import Metrics
from app.storage.base import ObjectHead, ObjectStore

log = logging.getLogger(__name__)

# Opens a verified local copy of a reference; called only when one is needed (to restore it).
LocalCopy = Callable[[], AbstractContextManager[Path]]


class DeltaHost(Protocol):
    """The writer's steps this module reuses (see `app.engine.writer.Writer`)."""

    @property
    def max_ratio(self) -> float: ...

    @property
    def work_dir(self) -> Path | None: ...

    def put_identity(self, up: Upload, space: DeltaSpace, *, created_reference: bool) -> PutResult: ...

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
    ) -> PutResult: ...

    def confirm_reference(
        self, space: DeltaSpace, ref_sha: str, local_copy: LocalCopy, name: str
    ) -> bool: ...

    def replace_delta_with_direct(self, up: Upload) -> PutResult: ...

    def over_ratio(self, up: Upload) -> PutResult: ...

    def reference_sha(self, up: Upload, ref: ObjectHead) -> str | None: ...

    def put_plain(self, up: Upload, space: DeltaSpace, ref: ObjectHead | None) -> PutResult: ...


def content_codec(codec: DeltaCodec) -> DeltaCodec:
    """The codec for deltas between decompressed contents: xdelta3 with LZMA secondary compression.

    A plain delta's new bytes are already compressed; a content delta's are not (source text),
    so xdelta3's secondary compressor pays here: requests 2.31.0 -> 2.32.3 measured 54,008 bytes
    with `-S none`, 21,493 with `-S lzma`, for no measurable extra time. Any xdelta3 decodes it,
    and this form is Glider-only anyway.
    """
    if isinstance(codec, XDelta3Codec):
        return XDelta3Codec(
            level=codec.level,
            secondary="lzma",
            memory_budget_bytes=codec.memory_budget_bytes,
            timeout=codec.timeout,
            target_matching=codec.target_matching,
            binary=codec.binary,
        )
    return codec


class GzipWriter:
    """Thread-safe: no mutable state of its own."""

    def __init__(
        self,
        host: DeltaHost,
        store: ObjectStore,
        codec: DeltaCodec,
        references: ReferenceProvider,
        *,
        expanded: ExpandedReferences,
        tool: str,
        metrics: Metrics,
    ) -> None:
        self._host = host
        self._store = store
        self._codec = content_codec(codec)
        self._references = references
        self._expanded = expanded
        self._tool = tool
        self._metrics = metrics

    def put_content(
        self, up: Upload, space: DeltaSpace, ref: ObjectHead | None, prepared: PreparedContent
    ) -> PutResult | None:
        """Store a compressed upload (gzip, bzip2 or xz) as the reference verbatim or as the delta
        between decompressed contents; None when the caller should use the byte-level forms (a
        later version no recipe rebuilds).

        A first version becomes reference.bin verbatim whether or not a recipe rebuilds it: its
        content is still a delta source for later versions that have one. For a later version the
        xdelta3 encode runs alongside a proof still running (`prepared.recipe.likely`); nothing is
        acknowledged, and no delta or zero-diff object written, before `prepared.recipe.result()`.
        """
        pending = prepared.recipe
        if ref is None:
            meta = reference_metadata(self._tool, up.name, up.sha256)
            meta["dg-gzip-raw-sha256"] = prepared.raw_sha256  # the content's, whatever the format
            try:
                self._store.put_file(up.bucket, space.reference_key, up.path, meta, if_none_match=True)
            except AlreadyExists:
                log.info("lost the race to create %s/%s; using the winner's", up.bucket, space.reference_key)
                ref = self._store.head(up.bucket, space.reference_key)
            else:
                # reference.bin is the upload verbatim and its local copies are exact: no recipe
                # is needed to serve it (the proof, still running, is stopped on return).
                self._references.seed(space, up.sha256, up.path)
                self._expanded.seed(space, up.sha256, prepared.raw_sha256, prepared.raw)
                return self._host.put_identity(up, space, created_reference=True)
        ref_sha = self._host.reference_sha(up, ref)
        if ref_sha == up.sha256:
            return self._host.put_identity(up, space, created_reference=False)
        if ref_sha is None:
            return self._host.put_plain(up, space, ref)
        if not pending.likely and pending.result() is None:
            return None  # known before any encode: no recipe rebuilds this file
        with self._expanded.open(space, ref_sha, reference_raw_sha256(ref.metadata)) as ref_raw:
            if ref_raw is None:  # the reference is not a gzip stream: byte-level forms only
                return self._host.put_plain(up, space, ref)
            result = self._put_delta(up, space, ref_sha, ref_raw, prepared=prepared)
        if result is None or result.stored_as is StoredAs.DIRECT:
            return result
        # The compressed reference is opened only if it has to be restored: opened eagerly, it
        # was a second GET whenever the cache had not kept it (e.g. evicted by its own content).
        local_copy = partial(self._references.open, space, ref_sha)
        if not self._host.confirm_reference(space, ref_sha, local_copy, up.name):
            return self._host.replace_delta_with_direct(up)
        return result

    def _put_delta(
        self,
        up: Upload,
        space: DeltaSpace,
        ref_sha: str,
        ref_raw: tuple[Path, str],
        *,
        prepared: PreparedContent,
    ) -> PutResult | None:
        limit = int(self._host.max_ratio * up.size)
        with scratch_file(self._host.work_dir, ".delta") as delta:
            began = time.perf_counter()
            kept = self._codec.encode(ref_raw[0], prepared.raw, delta, size_limit=limit)
            self._metrics.codec_seconds.labels(operation="encode").observe(time.perf_counter() - began)
            recipe = prepared.recipe.result()  # the encode ran alongside the proof; now wait for it
            if recipe is None:
                return None
            if not kept or not accept_delta(delta.stat().st_size, up.size, self._host.max_ratio):
                return self._host.over_ratio(up)
            form = prepared.form_for(ref_raw[1])
            form["dg-delta-cmd"] = f"{self._codec.command_line(up.name)} (over the decompressed contents)"
            return self._host.store_delta(
                up, space, ref_sha, delta, StoredAs.DELTA, zero_diff=False, form=form
            )
