"""Which compressed container a file is, and expanding any of them (gzip, bzip2, xz).

The bytes decide, never the name. Gzip keeps its own modules (header and zlib recipes); bzip2
and xz are `ContainerCodec`s. The local reference cache expands a reference of any kind here.
"""

from __future__ import annotations

from pathlib import Path

from app.engine.container_bz2 import Bzip2Codec
from app.engine.container_stream import ContainerCodec, Content, expand_stream, read_head
from app.engine.container_xz import XzCodec
from app.engine.gzip_stream import GZIP_MAGIC, ExpandLimits, expand

CODECS: tuple[ContainerCodec, ...] = (Bzip2Codec(), XzCodec())


def codec_for_head(head: bytes) -> ContainerCodec | None:
    """The bzip2/xz codec whose magic starts `head` (pure)."""
    return next((codec for codec in CODECS if codec.matches(head)), None)


def codec_for_form(form: str | None) -> ContainerCodec | None:
    return next((codec for codec in CODECS if codec.form == form), None)


def codec_of(path: Path) -> ContainerCodec | None:
    return codec_for_head(read_head(path))


def is_compressed(path: Path) -> bool:
    """True when `path` starts like a gzip, bzip2 or xz stream."""
    head = read_head(path)
    return head.startswith(GZIP_MAGIC) or codec_for_head(head) is not None


def expand_any(path: Path, out: Path, limits: ExpandLimits, what: str) -> Content | None:
    """Decompress a clean single-stream gzip, bzip2 or xz file; None for anything else."""
    head = read_head(path)
    if head.startswith(GZIP_MAGIC):
        expanded = expand(path, out, limits, what)
        return None if expanded is None else Content(expanded.raw_size, expanded.raw_sha256)
    codec = codec_for_head(head)
    return None if codec is None else expand_stream(path, out, codec, limits, what)
