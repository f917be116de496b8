"""Compressed uploads (gzip, bzip2, xz) ready for a content delta, and reading bzip2/xz deltas.

Upload (`prepare_compressed`): the file is expanded to a scratch file within the limits and a
recipe is searched and proven (gzip: `gzip_form.prepare_upload`; bzip2/xz: their codec's
candidates through `container_stream.find_recipe`). The writer then stores it
(`GzipWriter.put_content`): a first version becomes `reference.bin` verbatim, a later one the
VCDIFF between the decompressed reference and its content. Download: `content_delta.rebuild_content`.
"""

from __future__ import annotations

import platform
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from app.domain.container_metadata import (
    FORMS,
    ContainerFormInfo,
    container_form_metadata,
    parse_container_form,
)
from app.domain.files import scratch_file
from app.domain.gzip_metadata import gzip_form_metadata
from app.domain.keys import DeltaSpace
from app.domain.metadata import DeltaInfo, read_field
from app.engine.codec import DeltaCodec
from app.engine.container_kinds import codec_for_form, codec_of
from app.engine.container_stream import ContainerCodec, expand_stream, find_recipe, read_head, write_stream
from app.engine.content_delta import Deferred, PreparedContent, rebuild_content
from app.engine.expanded import ExpandedReferences
from app.engine.gzip_form import GzipSettings, PreparedGzip, form_info
from app.engine.gzip_form import prepare_upload as prepare_gzip
from app.engine.gzip_stream import FAMILY_NODE, Recipe
from app.engine.node_zlib import NodeZlib
from app.engine.upload_file import Upload
from app.engine.vcdiff import source_was_decompressed
from app.errors import CodecError, IntegrityError


def _library(codec: ContainerCodec) -> str:
    library = "liblzma" if codec.form == "xz" else "libbzip2"
    return f"{library} via Python {platform.python_version()}"


@contextmanager
def prepare_compressed(
    up: Upload, settings: GzipSettings, work_dir: Path | None, *, first_version: bool = False
) -> Iterator[PreparedContent | None]:
    """Expand a gzip, bzip2 or xz upload and prove a recipe; None when it is not one clean stream
    or (a later version) no recipe rebuilds it. A `first_version` (no reference.bin yet: it becomes
    the reference verbatim, recipe or not) searches for its recipe only if asked, after losing the
    race to create the reference. Raises DecompressionBomb past the limits. The scratch content is
    deleted on exit."""
    what = f"s3://{up.bucket}/{up.key}"
    codec = codec_of(up.path)
    if codec is not None:
        with _prepare_container(codec, up, settings, work_dir, what, first_version=first_version) as content:
            yield content
        return
    with prepare_gzip(up.path, up.sha256, settings, work_dir, what, prove=not first_version) as prepared:
        yield None if prepared is None else _gzip_content(prepared, settings.node)


def _zlib_version(recipe: Recipe, node: NodeZlib | None) -> str:
    """The zlib that made `recipe` (recorded as `dg-gzip-zlib`)."""
    if recipe.family == FAMILY_NODE and node is not None:
        return f"node {node.zlib_version}"
    return zlib.ZLIB_RUNTIME_VERSION


def _gzip_content(prepared: PreparedGzip, node: NodeZlib | None) -> PreparedContent:
    def form_for(ref_raw_sha: str) -> dict[str, str]:
        recipe = prepared.recipe.result()
        assert recipe is not None  # the writer asks only once a recipe is proven
        return gzip_form_metadata(form_info(prepared, recipe, ref_raw_sha), _zlib_version(recipe, node))

    return PreparedContent(prepared.raw, prepared.expanded.raw_sha256, prepared.recipe, form_for)


@contextmanager
def _prepare_container(
    codec: ContainerCodec, up: Upload, settings: GzipSettings, work_dir: Path | None, what: str,
    *, first_version: bool,
) -> Iterator[PreparedContent | None]:  # fmt: skip
    with scratch_file(work_dir, ".raw") as raw:
        content = expand_stream(up.path, raw, codec, settings.limits, what)
        if content is None:
            yield None
            return
        pending = Deferred(lambda: find_recipe(codec, raw, up.path, settings.recipe_seconds, up.sha256))
        if not first_version and pending.result() is None:
            yield None
            return

        def form_for(ref_raw_sha: str) -> dict[str, str]:
            recipe = pending.result()
            assert recipe is not None  # the writer asks only once a recipe is found
            info = ContainerFormInfo(codec.form, recipe, content.raw_sha256, content.raw_size, ref_raw_sha)
            return container_form_metadata(info, _library(codec))

        yield PreparedContent(raw, content.raw_sha256, pending, form_for)


class ContainerReads:
    """The reader's half for bzip2 and xz content deltas."""

    def __init__(self, expanded: ExpandedReferences, work_dir: Path | None, budget_seconds: float) -> None:
        self._expanded = expanded
        self._work_dir = work_dir
        self._budget = budget_seconds

    @staticmethod
    def handles(meta: Mapping[str, str]) -> bool:
        return read_field(meta, "form") in FORMS

    def rebuild(
        self, decoder: DeltaCodec, space: DeltaSpace, info: DeltaInfo, meta: Mapping[str, str], *,
        delta: Path, part: Path, what: str,
    ) -> None:  # fmt: skip
        form = parse_container_form(what, meta)
        codec = codec_for_form(form.form)
        if codec is None:
            raise CodecError(f"{what}: delta form {form.form!r} is unknown to this Glider; not served")

        def recompress(raw: Path) -> None:
            try:
                write_stream(codec.compress(raw, form.recipe), part)
            except ValueError:
                raise IntegrityError(
                    f"{what}: unknown {form.form} recipe {form.recipe!r}; not served"
                ) from None

        rebuild_content(
            decoder, self._expanded, space, info, (form.raw_sha256, form.raw_size, form.ref_raw_sha256),
            recompress=recompress, delta=delta, work_dir=self._work_dir, what=what,
        )  # fmt: skip

    def rescue(
        self, decoder: DeltaCodec, space: DeltaSpace, info: DeltaInfo, delta: Path, part: Path
    ) -> bool:
        """Rebuild a deltaglider delta over a decompressed bzip2/xz reference exactly, when possible.

        deltaglider 6.2.0 (xdelta3 without `-D`) diffed the decompressed files and recompresses
        with the `bzip2`/`xz` tools on read. `decode_expanded` yields the exact content; the
        recipes of the reference's own header rebuild the file when it was made the same way.
        True only when the rebuilt bytes hash to `dg-file-sha256`.
        """
        if not source_was_decompressed(delta):
            return False
        with self._expanded.compressed(space, info.ref_sha256) as reference:
            codec = codec_of(reference)
            if codec is None:
                return False
            with scratch_file(self._work_dir, ".raw") as raw:
                if not decoder.decode_expanded(reference, delta, raw):
                    return False
                deadline = time.monotonic() + self._budget
                for recipe in codec.candidates(read_head(reference)):
                    if write_stream(codec.compress(raw, recipe), part) == info.file_sha256:
                        return True
                    if time.monotonic() > deadline:
                        break
        return False
