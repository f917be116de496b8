"""xz streams: liblzma's single-threaded encoder is deterministic per preset (0-9, with or
without `--extreme`) and check type. `xz -T1` and Python's `lzma` write the same bytes (measured
at -6 and -9). The multi-threaded encoder (`xz -T0`, the default since xz 5.6) records sizes in
every block header and splits blocks: no single-threaded recipe rebuilds it, and the block
header shows it at once, so it gets no candidate.

`candidates` reads the stream flags (the check type) and the first block header (one LZMA2
filter and its dictionary size, which narrows the presets to one or two), so a search costs a
few candidates, each usually rejected within its first output bytes.
"""

from __future__ import annotations

import lzma
from collections.abc import Generator, Sequence
from pathlib import Path

from app.engine.container_stream import Decompressor, compressed_pieces

FORM_XZ = "xz"
MAGIC = b"\xfd7zXZ\x00"
_LZMA2 = 0x21
_CHECKS = (lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256)
# log2 of each preset's dictionary size (liblzma's preset table)
_DICT_LOG2 = {0: 18, 1: 20, 2: 21, 3: 22, 4: 22, 5: 23, 6: 23, 7: 24, 8: 25, 9: 26}
_ORDER = (6, 9, 1, 0, 2, 3, 4, 5, 7, 8)  # xz's default first, then the usual choices


def _dict_byte(preset: int) -> int:
    """The LZMA2 property byte xz writes for a power-of-two dictionary (2^n: 2*(n-12))."""
    return 2 * (_DICT_LOG2[preset] - 12)


def candidates(head: bytes) -> list[str]:
    """Recipes that may have made the xz stream starting with `head` (pure; [] if none can)."""
    if len(head) < 18 or not head.startswith(MAGIC) or head[6] != 0 or head[7] not in _CHECKS:
        return []
    check, block_flags = head[7], head[13]
    # one filter, no compressed/uncompressed sizes (the single-threaded encoder's block header)
    if head[12] == 0 or block_flags != 0 or head[14] != _LZMA2 or head[15] != 1:
        return []
    presets = [p for p in _ORDER if _dict_byte(p) == head[16]]
    return [encode(p, extreme, check) for extreme in (False, True) for p in presets]


def encode(preset: int, extreme: bool, check: int) -> str:
    return f"xz;preset={preset};extreme={int(extreme)};check={check}"


def decode(recipe: str) -> tuple[int, bool, int]:
    """(preset, extreme, check) of `encode`'s form; ValueError otherwise."""
    kind, _, rest = recipe.partition(";")
    try:
        fields = dict(part.split("=", 1) for part in rest.split(";"))
        preset, extreme, check = int(fields["preset"]), int(fields["extreme"]), int(fields["check"])
    except (KeyError, ValueError):
        raise ValueError(recipe) from None
    if kind != "xz" or preset not in _DICT_LOG2 or extreme not in (0, 1) or check not in _CHECKS:
        raise ValueError(recipe)
    return preset, bool(extreme), check


class XzCodec:
    form = FORM_XZ
    errors: tuple[type[Exception], ...] = (lzma.LZMAError,)

    def matches(self, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def decompressor(self) -> Decompressor:
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)

    def candidates(self, head: bytes) -> Sequence[str]:
        return candidates(head)

    def compress(self, raw: Path, recipe: str) -> Generator[bytes]:
        preset, extreme, check = decode(recipe)
        flags = preset | (lzma.PRESET_EXTREME if extreme else 0)
        return compressed_pieces(raw, lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=check, preset=flags))
