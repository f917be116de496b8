"""Decompressed references: the content of a gzip/bzip2/xz reference.bin, kept only in the local cache.

The bucket holds the reference as its compressed bytes (a series costs the first `.tar.gz`, not
a decompressed tar); gzip-aware deltas need its content. The content is cached under the
deltaspace's cache id and the content's SHA-256 (recorded in every gzip-aware delta), so it is
verified on every open and encrypted at rest exactly like cached references. One thread per
reference expands it at a time; the others wait and then read the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from app.domain.files import scratch_file
from app.domain.keys import DeltaSpace
from app.engine.container_kinds import expand_any
from app.engine.gzip_stream import ExpandLimits
from app.engine.references import ReferenceProvider
from app.errors import IntegrityError

_KNOWN_MAX = 4096  # remembered (reference sha -> content sha) pairs; a miss only costs a re-expand


class ExpandedReferences:
    """Opens the decompressed content of gzip references. Thread-safe; blocking."""

    def __init__(self, references: ReferenceProvider, limits: ExpandLimits, work_dir: Path | None) -> None:
        self._references = references
        self._limits = limits
        self._work_dir = work_dir
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._known: OrderedDict[tuple[str, str], str] = OrderedDict()

    def remember(self, space: DeltaSpace, ref_sha: str, raw_sha: str) -> None:
        with self._lock:
            self._known[(space.cache_id, ref_sha)] = raw_sha
            self._known.move_to_end((space.cache_id, ref_sha))
            while len(self._known) > _KNOWN_MAX:
                self._known.popitem(last=False)

    def seed(self, space: DeltaSpace, ref_sha: str, raw_sha: str, raw: Path) -> None:
        """Offer a just-expanded reference content to the cache."""
        self.remember(space, ref_sha, raw_sha)
        self._references.seed(space, raw_sha, raw)

    def compressed(self, space: DeltaSpace, ref_sha: str) -> AbstractContextManager[Path]:
        """The reference.bin bytes themselves (see ReferenceProvider.open)."""
        return self._references.open(space, ref_sha)

    @contextmanager
    def open(self, space: DeltaSpace, ref_sha: str, raw_sha: str | None) -> Iterator[tuple[Path, str] | None]:
        """Yield (content path, content SHA-256) of reference `ref_sha`, or None when that
        reference is not a clean single-stream gzip, bzip2 or xz file.

        `raw_sha`, when the caller knows it, must match (IntegrityError otherwise). Raises
        DecompressionBomb past the limits, and what ReferenceProvider.open raises.
        """
        key = (space.cache_id, ref_sha)
        with self._lock:
            raw_sha = raw_sha or self._known.get(key)
            flight = self._locks.setdefault(key, threading.Lock())
        with ExitStack() as stack:
            found = self._cached(stack, space, raw_sha)
            if found is None:
                with flight:  # one expansion per reference at a time; later callers hit the cache
                    with self._lock:
                        raw_sha = raw_sha or self._known.get(key)
                    found = self._cached(stack, space, raw_sha) or self._expand(
                        stack, space, ref_sha, raw_sha
                    )
            yield found

    def _cached(self, stack: ExitStack, space: DeltaSpace, raw_sha: str | None) -> tuple[Path, str] | None:
        if raw_sha is None:
            return None
        hit = self._references.open_cached(space, raw_sha)
        return None if hit is None else (stack.enter_context(hit), raw_sha)

    def _expand(
        self, stack: ExitStack, space: DeltaSpace, ref_sha: str, raw_sha: str | None
    ) -> tuple[Path, str] | None:
        raw = stack.enter_context(scratch_file(self._work_dir, ".raw"))
        with self._references.open(space, ref_sha) as compressed:
            expanded = expand_any(compressed, raw, self._limits, f"reference {space.reference_key!r}")
        if expanded is None:
            return None
        if raw_sha is not None and expanded.raw_sha256 != raw_sha:
            raise IntegrityError(
                f"reference {space.bucket}/{space.reference_key} decompresses to SHA-256 "
                f"{expanded.raw_sha256}, the delta needs {raw_sha}"
            )
        self.seed(space, ref_sha, expanded.raw_sha256, raw)
        return raw, expanded.raw_sha256
