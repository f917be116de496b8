"""Metadata of the bzip2 and xz content-delta forms (docs/WIRE_FORMAT.md, "Bzip2 and xz deltas").

Such a `.delta` carries every field of a plain delta (`dg-file-sha256`/`dg-file-size` describe the
compressed file itself, so a reader that ignores `dg-form` fails its SHA-256 check) plus:

| key | meaning |
|---|---|
| dg-form | `bzip2` or `xz`: the VCDIFF turns the decompressed reference into the decompressed file |
| dg-container-recipe | `bzip2;level=9`, or `xz;preset=6;extreme=0;check=4` |
| dg-container-raw-sha256 / dg-container-raw-size | the decompressed file |
| dg-container-ref-raw-sha256 | the decompressed reference (the local cache's key) |
| dg-container-lib | library version that found the recipe (diagnostics only) |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.metadata import required_field
from app.errors import IntegrityError

FORMS = ("bzip2", "xz")


@dataclass(frozen=True, slots=True)
class ContainerFormInfo:
    form: str
    recipe: str
    raw_sha256: str
    raw_size: int
    ref_raw_sha256: str


def _required(meta: Mapping[str, str], field: str, key: str) -> str:
    return required_field(meta, field, f"content delta {key!r}")


def parse_container_form(key: str, meta: Mapping[str, str]) -> ContainerFormInfo:
    """Read the fields; IntegrityError when one is missing or malformed."""
    try:
        raw_size = int(_required(meta, "container_raw_size", key))
    except ValueError:
        raise IntegrityError(f"content delta {key!r} has a malformed dg-container-raw-size") from None
    return ContainerFormInfo(
        form=_required(meta, "form", key),
        recipe=_required(meta, "container_recipe", key),
        raw_sha256=_required(meta, "container_raw_sha256", key).lower(),
        raw_size=raw_size,
        ref_raw_sha256=_required(meta, "container_ref_raw_sha256", key).lower(),
    )


def container_form_metadata(info: ContainerFormInfo, library: str) -> dict[str, str]:
    """The fields added to a plain delta's metadata."""
    return {
        "dg-form": info.form,
        "dg-container-recipe": info.recipe,
        "dg-container-raw-sha256": info.raw_sha256,
        "dg-container-raw-size": str(info.raw_size),
        "dg-container-ref-raw-sha256": info.ref_raw_sha256,
        "dg-container-lib": library,
    }
