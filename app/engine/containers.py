"""Content deltas of any compressed container: bzip2 and xz uploads, and the rebuild all forms share.

Upload (`prepare_upload`): the file is expanded to a scratch file with the gzip limits, and a
recipe of its codec is searched and proven (`container_stream.find_recipe`). The writer then
stores it like a gzip stream (`GzipWriter.put_content`): a first version becomes `reference.bin`
verbatim, a later one the VCDIFF between the decompressed reference and its content.
Download (`rebuild_content`, also used by the gzip form): decode against the decompressed
reference, check the content's size and SHA-256, recompress; the reader checks the file's SHA-256.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.domain.container_metadata import (
    FORMS,
    ContainerFormInfo,
    container_form_metadata,
    parse_container_form,
)
from app.domain.files import scratch_file
from app.domain.hashing import sha256_file
from app.domain.keys import DeltaSpace
from app.domain.metadata import DeltaInfo, read_field
from app.engine.codec import DeltaCodec
from app.engine.container_kinds import codec_for_form, codec_of
from app.engine.container_stream import ContainerCodec, expand_stream, find_recipe, read_head, write_stream
from app.engine.expanded import ExpandedReferences
from app.engine.gzip_stream import ExpandLimits
from app.engine.vcdiff import source_was_decompressed
from app.errors import CodecError, IntegrityError


@dataclass(frozen=True, slots=True)
class PreparedContent:
    """An upload's decompressed content, and its delta-form metadata given the reference's
    content SHA-256 (`form_for`)."""

    raw: Path
    raw_sha256: str
    form_for: Callable[[str], dict[str, str]]


def _library(codec: ContainerCodec) -> str:
    library = "liblzma" if codec.form == "xz" else "libbzip2"
    return f"{library} via Python {platform.python_version()}"


@contextmanager
def prepare_upload(
    codec: ContainerCodec,
    path: Path,
    sha256: str,
    *,
    limits: ExpandLimits,
    budget_seconds: float,
    work_dir: Path | None,
    what: str,
) -> Iterator[PreparedContent | None]:
    """Expand `path` and prove a recipe; None when it is not one clean stream or none rebuilds it.

    Raises DecompressionBomb past the limits. The scratch content is deleted on exit.
    """
    with scratch_file(work_dir, ".raw") as raw:
        content = expand_stream(path, raw, codec, limits, what)
        recipe = None if content is None else find_recipe(codec, raw, path, budget_seconds, sha256)
        if content is None or recipe is None:
            yield None
            return

        def form_for(ref_raw_sha: str) -> dict[str, str]:
            info = ContainerFormInfo(codec.form, recipe, content.raw_sha256, content.raw_size, ref_raw_sha)
            return container_form_metadata(info, _library(codec))

        yield PreparedContent(raw, content.raw_sha256, form_for)


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
        with self._expanded.compressed(space, info.ref_sha256) as reference:
            codec = codec_of(reference)
            if codec is None or not source_was_decompressed(delta):
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
