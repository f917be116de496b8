"""bzip2 streams: libbzip2's output depends only on the block size (`-1`..`-9`, the digit in the
`BZh<digit>` header), so the header names the one candidate. Python's `bz2` and the `bzip2` tool
both use libbzip2 (measured equal at -1, -6, -9). Other writers (lbzip2, pbzip2's multi-stream
files) are caught by the byte comparison or by `expand_stream` and keep the plain forms.
"""

from __future__ import annotations

import bz2
from collections.abc import Generator, Sequence
from pathlib import Path

from app.engine.container_stream import Decompressor, compressed_pieces

FORM_BZIP2 = "bzip2"
_PREFIX = "bzip2;level="


def candidates(head: bytes) -> list[str]:
    """The recipe the `BZh<digit>` header implies, or none."""
    if len(head) < 4 or not head.startswith(b"BZh") or head[3:4] not in b"123456789":
        return []
    return [f"{_PREFIX}{head[3] - 48}"]


def level_of(recipe: str) -> int:
    """The block size of `bzip2;level=N`; ValueError otherwise."""
    if not recipe.startswith(_PREFIX):
        raise ValueError(recipe)
    level = int(recipe.removeprefix(_PREFIX))
    if not 1 <= level <= 9:
        raise ValueError(recipe)
    return level


class Bzip2Codec:
    form = FORM_BZIP2
    errors: tuple[type[Exception], ...] = (OSError, ValueError)

    def matches(self, head: bytes) -> bool:
        return head.startswith(b"BZh")

    def decompressor(self) -> Decompressor:
        return bz2.BZ2Decompressor()

    def candidates(self, head: bytes) -> Sequence[str]:
        return candidates(head)

    def compress(self, raw: Path, recipe: str) -> Generator[bytes]:
        compressor = bz2.BZ2Compressor(level_of(recipe))
        return compressed_pieces(raw, compressor)
