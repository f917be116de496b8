"""The gzip-aware delta form: prepare an upload, rebuild a download, rescue deltaglider's deltas.

Upload: the file is decompressed (limits enforced as it expands), a zlib recipe that rebuilds it
byte for byte is found and proven (every output byte and the SHA-256 compared), and the delta is
taken between the decompressed reference and file. Download: decode against the decompressed
reference, check the content's SHA-256, recompress with the recipe and stored header; the reader
then checks the file's SHA-256 as for any delta.

Rescue: deltaglider 6.2.0's `.tar.gz`/`.tgz` deltas rarely give the original bytes back;
`xdelta3 -d -R` yields the decompressed file, which a recipe (stock or node's) and a header rebuilt
from the reference's (or npm's) restore when one matches `dg-file-sha256`, and only then.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.domain.files import scratch_file
from app.domain.gzip_metadata import FORM_GZIP, GzipFormInfo, form_of, parse_gzip_form
from app.domain.keys import DeltaSpace
from app.domain.metadata import DeltaInfo, read_field
from app.engine.codec import DeltaCodec
from app.engine.content_delta import rebuild_content
from app.engine.expanded import ExpandedReferences
from app.engine.gzip_proof import PendingRecipe, StreamProof
from app.engine.gzip_recipe import candidates, find_by_hash, find_recipe
from app.engine.gzip_stream import (
    FAMILY_NODE,
    Expanded,
    ExpandLimits,
    GzipHeader,
    Recipe,
    expand,
    read_header,
    recompress,
)
from app.engine.node_zlib import NodeSource, NodeZlib, no_node
from app.engine.vcdiff import source_was_decompressed
from app.errors import CodecError, IntegrityError, RecompressorUnavailable


@dataclass(frozen=True, slots=True)
class GzipSettings:
    """`recipe_seconds` bounds each recipe search; `limits` bound decompression; `node_source`:
    the node recompressor of the node-zlib recipe family, found on first use (`NodeLocator`)."""

    limits: ExpandLimits
    recipe_seconds: float
    node_source: NodeSource = no_node

    @property
    def node(self) -> NodeZlib | None:
        """The node recompressor, None without one."""
        return self.node_source()


@dataclass(frozen=True, slots=True)
class PreparedGzip:
    """An upload's decompressed content and its recipe, proven in the background
    (`recipe.result()` blocks until proven or none found)."""

    raw: Path
    expanded: Expanded
    recipe: PendingRecipe


@contextmanager
def prepare_upload(
    path: Path, sha256: str, settings: GzipSettings, work_dir: Path | None, what: str, *, prove: bool = True
) -> Iterator[PreparedGzip | None]:
    """Decompress and prove a recipe; None when `path` is not a clean single-member gzip. The
    likeliest candidate is proven while the file decompresses (`gzip_proof`); without `prove` (a
    reference-to-be needs no recipe) the search runs only if `recipe.result()` is asked for.
    Raises DecompressionBomb past the limits. Scratch content deleted, proof stopped, on exit."""
    header = read_header(path)
    if header is None:
        yield None
        return
    first = next(candidates(header.xfl), None)
    proof = StreamProof(path, header, first, sha256) if first is not None and prove else None
    with scratch_file(work_dir, ".raw") as raw:
        try:
            tap = proof.feed if proof else None
            expanded = expand(path, raw, settings.limits, what, tap=tap, header=header)
            if expanded is None:
                yield None
                return
            if proof is not None:
                proof.finish()

            def search(skip: Recipe | None) -> Recipe | None:
                assert expanded is not None  # narrowed above; mypy does not carry it into closures
                return find_recipe(
                    raw, path, expanded, settings.recipe_seconds, sha256, skip=skip, node=settings.node
                )

            yield PreparedGzip(raw, expanded, PendingRecipe(proof, search))
        finally:
            if proof is not None:
                proof.abort()


def form_info(prepared: PreparedGzip, recipe: Recipe, ref_raw_sha: str) -> GzipFormInfo:
    return GzipFormInfo(
        recipe=recipe.encode(),
        header=prepared.expanded.header.raw,
        raw_sha256=prepared.expanded.raw_sha256,
        raw_size=prepared.expanded.raw_size,
        ref_raw_sha256=ref_raw_sha,
    )


def _no_node(what: str, recipe: str) -> str:
    return (
        f"{what} is rebuilt with node's zlib (recipe {recipe}), which this Glider cannot run "
        "(DG_GZIP_NODE); not served"
    )


def rebuild(
    decoder: DeltaCodec,
    expanded_refs: ExpandedReferences,
    space: DeltaSpace,
    info: DeltaInfo,
    form: GzipFormInfo,
    *,
    delta: Path,
    part: Path,
    work_dir: Path | None,
    what: str,
    node: NodeZlib | None = None,
) -> None:
    """Rebuild a gzip-aware delta into `part` (the caller verifies the file's SHA-256).

    A node-zlib recipe without `node` raises RecompressorUnavailable before any decoding."""
    recipe = Recipe.decode(form.recipe)
    if recipe is None:
        raise IntegrityError(f"{what}: unknown gzip recipe {form.recipe!r}; not served")
    if recipe.family == FAMILY_NODE and node is None:
        raise RecompressorUnavailable(_no_node(what, form.recipe))
    rebuild_content(
        decoder,
        expanded_refs,
        space,
        info,
        (form.raw_sha256, form.raw_size, form.ref_raw_sha256),
        recompress=lambda raw: recompress(raw, recipe, form.header, part, node),
        delta=delta,
        work_dir=work_dir,
        what=what,
    )


class GzipReads:
    """The reader's gzip half: gzip-aware deltas, and rescuing deltaglider's gzip deltas."""

    def __init__(self, expanded: ExpandedReferences, settings: GzipSettings, work_dir: Path | None) -> None:
        self._expanded = expanded
        self._settings = settings
        self._work_dir = work_dir

    def check_available(self, meta: Mapping[str, str], what: str) -> None:
        """RecompressorUnavailable when the delta's recipe needs node and there is none (HEAD
        answers what GET would, from metadata alone)."""
        if form_of(meta) != FORM_GZIP:
            return
        recipe = Recipe.decode(read_field(meta, "gzip_recipe") or "")
        if recipe is not None and recipe.family == FAMILY_NODE and self._settings.node is None:
            raise RecompressorUnavailable(_no_node(what, recipe.encode()))

    @staticmethod
    def handles(meta: Mapping[str, str]) -> bool:
        """True when the delta names a form (only `gzip` is known; others fail in `rebuild`)."""
        return form_of(meta) is not None

    def rebuild(
        self,
        decoder: DeltaCodec,
        space: DeltaSpace,
        info: DeltaInfo,
        meta: Mapping[str, str],
        *,
        delta: Path,
        part: Path,
        what: str,
    ) -> None:
        form = form_of(meta)
        if form != FORM_GZIP:
            raise CodecError(f"{what}: delta form {form!r} is unknown to this Glider; not served")
        parsed = parse_gzip_form(what, meta)
        rebuild(
            decoder,
            self._expanded,
            space,
            info,
            parsed,
            delta=delta,
            part=part,
            work_dir=self._work_dir,
            what=what,
            node=self._settings.node,
        )

    def rescue(self, codec: DeltaCodec, space: DeltaSpace, info: DeltaInfo, delta: Path, part: Path) -> bool:
        """Rebuild a delta deltaglider encoded over decompressed inputs exactly, when possible.

        Its zero-diff delta (file hash = reference hash) is the reference verbatim; other deltas
        go through `rescue`. False: not such a delta, or no exact rebuild (the caller then
        decodes deltaglider's way and the hash check decides).
        """
        if not source_was_decompressed(delta):
            return False
        if info.file_sha256 == info.ref_sha256:
            with self._expanded.compressed(space, info.ref_sha256) as reference:
                shutil.copyfile(reference, part)
            return True
        return rescue(
            codec,
            self._expanded,
            space,
            info,
            delta=delta,
            part=part,
            settings=self._settings,
            work_dir=self._work_dir,
        )


def _minimal_header(level: int, os_byte: int) -> bytes:
    """The header zlib/npm write with no name and mtime 0."""
    xfl = 2 if level == 9 else 4 if level == 1 else 0
    return b"\x1f\x8b\x08\x00" + struct.pack("<IBB", 0, xfl, os_byte)


def rescue_headers(reference: GzipHeader | None, level: int) -> list[bytes]:
    """Headers deltaglider's delta may have had: the reference's, or npm-style minimal ones."""
    headers = [reference.raw] if reference is not None else []
    os_bytes = (reference.os,) if reference is not None else ()
    headers.extend(_minimal_header(level, os_byte) for os_byte in (*os_bytes, 3, 255, 0))
    return headers


def rescue(
    codec: DeltaCodec,
    expanded_refs: ExpandedReferences,
    space: DeltaSpace,
    info: DeltaInfo,
    *,
    delta: Path,
    part: Path,
    settings: GzipSettings,
    work_dir: Path | None,
) -> bool:
    """Rebuild a deltaglider gzip delta exactly into `part`; False when no recipe matches."""
    with expanded_refs.compressed(space, info.ref_sha256) as ref_gz:
        if read_header(ref_gz) is None:
            return False  # a bzip2/xz reference: `containers.ContainerReads.rescue`
    with expanded_refs.open(space, info.ref_sha256, None) as ref:
        if ref is None:
            return False
        ref_raw = ref[0]
        with scratch_file(work_dir, ".raw") as raw:
            with expanded_refs.compressed(space, info.ref_sha256) as ref_gz:
                if not codec.decode_expanded(ref_gz, delta, raw):
                    return False
                header = read_header(ref_gz)
                own = _reference_recipe(ref_gz, ref_raw, header, settings, work_dir)
            node = settings.node
            order = [own] if own is not None else []
            order.extend(r for r in candidates(header.xfl if header else 0, node is not None) if r != own)
            found = find_by_hash(
                raw,
                lambda recipe: rescue_headers(header, recipe.level),
                info.file_sha256,
                info.file_size,
                recipes=order,
                budget_seconds=settings.recipe_seconds,
                node=node,
            )
            if found is None:
                return False
            recipe, chosen = found
            return recompress(raw, recipe, chosen, part, node) == info.file_sha256


def _reference_recipe(
    ref_gz: Path, ref_raw: Path, header: GzipHeader | None, settings: GzipSettings, work_dir: Path | None
) -> Recipe | None:
    """The recipe that rebuilds the reference itself: the likeliest one for its later versions."""
    if header is None:
        return None
    expanded = Expanded(header, ref_raw.stat().st_size, "")
    return find_recipe(ref_raw, ref_gz, expanded, settings.recipe_seconds, None, node=settings.node)
