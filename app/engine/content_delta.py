"""Deltas between decompressed contents, whatever the container (gzip, bzip2, xz).

An upload arrives here as `PreparedContent` (its decompressed copy and the metadata of its form);
a download goes through `rebuild_content`: decode against the decompressed reference, check the
content's size and SHA-256, recompress; the reader then checks the file's SHA-256.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from app.domain.files import scratch_file
from app.domain.hashing import sha256_file
from app.domain.keys import DeltaSpace
from app.domain.metadata import DeltaInfo
from app.engine.codec import DeltaCodec
from app.engine.expanded import ExpandedReferences
from app.errors import IntegrityError

T = TypeVar("T")


class PendingRecipe(Protocol):
    """An upload's recipe: `result()` (None: no recipe rebuilds the file) may wait for a proof
    still running; `likely` is true while that proof still matches, so work can start alongside."""

    @property
    def likely(self) -> bool: ...

    def result(self) -> object | None: ...


class Deferred(Generic[T]):
    """A recipe searched for only when first asked (once): a first version, stored verbatim as
    reference.bin, needs none unless its writer loses the race to create the reference."""

    likely = False  # no proof runs alongside: the writer asks `result()` before any work

    def __init__(self, search: Callable[[], T | None]) -> None:
        self._search: Callable[[], T | None] | None = search
        self._recipe: T | None = None

    @property
    def searched(self) -> bool:
        return self._search is None

    def result(self) -> T | None:
        if self._search is not None:
            self._recipe, self._search = self._search(), None
        return self._recipe


@dataclass(frozen=True, slots=True)
class PreparedContent:
    """An upload's decompressed content, its recipe, and its delta-form metadata given the
    reference content's SHA-256 (`form_for`, called only once `recipe.result()` is not None)."""

    raw: Path
    raw_sha256: str
    recipe: PendingRecipe
    form_for: Callable[[str], dict[str, str]]


def rebuild_content(
    decoder: DeltaCodec,
    expanded_refs: ExpandedReferences,
    space: DeltaSpace,
    info: DeltaInfo,
    content: tuple[str, int, str],
    *,
    recompress: Callable[[Path], object],
    delta: Path,
    work_dir: Path | None,
    what: str,
) -> None:
    """Decode `delta` against the decompressed reference, check the result against `content`
    (its SHA-256, size, and the reference content's SHA-256), then `recompress` it."""
    raw_sha, raw_size, ref_raw_sha = content
    with expanded_refs.open(space, info.ref_sha256, ref_raw_sha) as ref:
        if ref is None:
            raise IntegrityError(f"{what}: its reference is not a compressed stream; not served")
        with scratch_file(work_dir, ".raw") as raw:
            decoder.decode(ref[0], delta, raw)
            if raw.stat().st_size != raw_size or sha256_file(raw) != raw_sha:
                raise IntegrityError(
                    f"{what}: the delta rebuilt content that is not the recorded one; not served"
                )
            recompress(raw)
