"""Metadata of the gzip-aware delta form (docs/WIRE_FORMAT.md, "Gzip-aware deltas").

A gzip-aware `.delta` carries every field of a plain delta (so listings, stats and deletes treat
it like any delta) plus:

| key | meaning |
|---|---|
| dg-form | `gzip`: the VCDIFF turns the decompressed reference into the decompressed file |
| dg-gzip-recipe | zlib parameters, `zlib;level=9;wbits=15;memlevel=8;strategy=0` |
| dg-gzip-header | the file's exact gzip header bytes, URL-safe base64 |
| dg-gzip-raw-sha256 / dg-gzip-raw-size | the decompressed file |
| dg-gzip-ref-raw-sha256 | the decompressed reference (the local cache's key) |
| dg-gzip-zlib | zlib version that found the recipe (diagnostics only) |

`dg-file-sha256` / `dg-file-size` keep describing the gzip file itself, so a reader that does
not know `dg-form` rebuilds the decompressed bytes, fails the SHA-256 check, and serves nothing.
A reference.bin Glider wrote from a gzip file may carry `dg-gzip-raw-sha256` (of its content).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from app.domain.metadata import read_field, required_field
from app.errors import IntegrityError

FORM_GZIP = "gzip"


@dataclass(frozen=True, slots=True)
class GzipFormInfo:
    """What a reader needs, beyond DeltaInfo, to rebuild a gzip-aware delta."""

    recipe: str
    header: bytes
    raw_sha256: str
    raw_size: int
    ref_raw_sha256: str


def form_of(meta: Mapping[str, str]) -> str | None:
    """The delta form named in metadata (None: a plain delta)."""
    return read_field(meta, "form")


def _required(meta: Mapping[str, str], field: str, key: str) -> str:
    return required_field(meta, field, f"gzip-aware delta {key!r}")


def parse_gzip_form(key: str, meta: Mapping[str, str]) -> GzipFormInfo:
    """Read the gzip-form fields; IntegrityError when one is missing or malformed."""
    header_text = _required(meta, "gzip_header", key)
    try:
        header = base64.urlsafe_b64decode(header_text.encode("ascii"))
        raw_size = int(_required(meta, "gzip_raw_size", key))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise IntegrityError(f"gzip-aware delta {key!r} has malformed gzip metadata") from None
    return GzipFormInfo(
        recipe=_required(meta, "gzip_recipe", key),
        header=header,
        raw_sha256=_required(meta, "gzip_raw_sha256", key).lower(),
        raw_size=raw_size,
        ref_raw_sha256=_required(meta, "gzip_ref_raw_sha256", key).lower(),
    )


def gzip_form_metadata(info: GzipFormInfo, zlib_version: str) -> dict[str, str]:
    """The fields added to a plain delta's metadata for the gzip form."""
    return {
        "dg-form": FORM_GZIP,
        "dg-gzip-recipe": info.recipe,
        "dg-gzip-header": base64.urlsafe_b64encode(info.header).decode("ascii"),
        "dg-gzip-raw-sha256": info.raw_sha256,
        "dg-gzip-raw-size": str(info.raw_size),
        "dg-gzip-ref-raw-sha256": info.ref_raw_sha256,
        "dg-gzip-zlib": zlib_version,
    }


def reference_raw_sha256(meta: Mapping[str, str]) -> str | None:
    """`dg-gzip-raw-sha256` of a reference.bin (its decompressed content), when recorded."""
    value = read_field(meta, "gzip_raw_sha256")
    return value.lower() if value else None
