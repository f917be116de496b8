"""Gzip streams (RFC 1952) on disk: parse the header, expand with limits, recompress with a recipe.

Everything streams in 1 MiB pieces: a decompressed tar is never held in memory, and
`zlib.decompressobj` is called with `max_length` so that one highly compressed input block
cannot expand into a large buffer (decompression bombs are stopped while they expand).

Only the simplest shape is "clean": one member, a complete deflate stream, a CRC-32 and ISIZE
that match, nothing after the trailer. Anything else (multi-member, trailing data, truncated,
corrupt, not gzip) is reported as None and the caller falls back to byte-level forms.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.domain.sizes import MiB
from app.engine.node_zlib import NodeZlib
from app.errors import DecompressionBomb, RecompressorUnavailable

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
_FTEXT, _FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 1, 2, 4, 8, 16
DEFAULT_MAX_EXPANDED = 16 << 30
DEFAULT_MAX_RATIO = 250.0
MAX_HEADER = 1024  # longer names/comments/extra fields are not worth a recipe (metadata is ~2 KiB)


@dataclass(frozen=True, slots=True)
class GzipHeader:
    """The exact header bytes of a member and the fields a recipe search looks at."""

    raw: bytes
    flags: int
    mtime: int
    xfl: int
    os: int

    @property
    def has_name(self) -> bool:
        return bool(self.flags & _FNAME)


def parse_header(data: bytes) -> GzipHeader | None:
    """The gzip header at the start of `data`, or None (not gzip, truncated, or over MAX_HEADER)."""
    if len(data) < 10 or not data.startswith(GZIP_MAGIC) or data[2] != 8 or data[3] & 0xE0:
        return None
    flags, mtime, xfl, os_byte = data[3], *struct.unpack("<IBB", data[4:10])
    pos = 10
    try:
        if flags & _FEXTRA:
            (xlen,) = struct.unpack("<H", data[pos : pos + 2])
            pos += 2 + xlen
        for bit in (_FNAME, _FCOMMENT):
            if flags & bit:
                pos = data.index(b"\x00", pos) + 1
    except (struct.error, ValueError):
        return None
    if flags & _FHCRC:
        pos += 2
    if pos > len(data) or pos > MAX_HEADER:
        return None
    return GzipHeader(bytes(data[:pos]), flags, mtime, xfl, os_byte)


def read_header(path: Path) -> GzipHeader | None:
    with path.open("rb") as fh:
        return parse_header(fh.read(MAX_HEADER + 16))


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


@dataclass(frozen=True, slots=True)
class ExpandLimits:
    """Refuse expansion past `max_bytes`, or past `max_ratio` x the compressed size once the
    output exceeds `ratio_floor` bytes (small files may legitimately compress 1000:1)."""

    max_bytes: int
    max_ratio: float
    ratio_floor: int = 64 * MiB

    def check(self, expanded: int, compressed: int, what: str) -> None:
        if expanded > self.max_bytes:
            raise DecompressionBomb(
                f"{what} expands past the {self.max_bytes:,}-byte limit for decompressed content; refused"
            )
        if expanded > self.ratio_floor and expanded > self.max_ratio * max(compressed, 1):
            raise DecompressionBomb(
                f"{what} expands more than {self.max_ratio:g} times its compressed size; refused as a "
                "decompression bomb"
            )


@dataclass(frozen=True, slots=True)
class Expanded:
    """A clean single-member gzip file and its decompressed copy."""

    header: GzipHeader
    raw_size: int
    raw_sha256: str


def expand(
    path: Path,
    out: Path,
    limits: ExpandLimits,
    what: str,
    tap: Callable[[bytes], None] | None = None,
    *,
    header: GzipHeader | None = None,
) -> Expanded | None:
    """Decompress `path` into `out`; None unless it is a clean single-member gzip stream.

    `tap`, when given, also receives every decompressed piece in order (a recipe proof).
    `header`: `path`'s header when the caller has already parsed it (`read_header`), so it is
    not read twice; the result carries it.

    Raises DecompressionBomb (while expanding, before the limit is passed by more than 1 MiB).
    """
    header = header or read_header(path)
    if header is None:
        return None
    size = path.stat().st_size
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    digest, crc, produced = hashlib.sha256(), 0, 0
    with path.open("rb") as src, out.open("wb") as dst:
        src.seek(len(header.raw))
        try:
            while not inflater.eof:
                data = inflater.unconsumed_tail or src.read(CHUNK)
                if not data:
                    return None  # truncated
                piece = inflater.decompress(data, CHUNK)
                produced += len(piece)
                limits.check(produced, size, what)
                dst.write(piece)
                digest.update(piece)
                crc = zlib.crc32(piece, crc)
                if tap is not None:
                    tap(piece)
        except zlib.error:
            return None
        tail = inflater.unused_data + src.read(max(0, 9 - len(inflater.unused_data)))
    if len(tail) != 8:
        return None  # truncated trailer, or bytes after it (another member, padding)
    want_crc, want_size = struct.unpack("<II", tail)
    if want_crc != crc or want_size != produced & 0xFFFFFFFF:
        return None
    return Expanded(header, produced, digest.hexdigest())


FAMILY_ZLIB = "zlib"  # Python's zlib (stock zlib)
FAMILY_NODE = "node-zlib"  # node's bundled zlib, through `app.engine.node_zlib`
FAMILIES = (FAMILY_ZLIB, FAMILY_NODE)


@dataclass(frozen=True, slots=True)
class Recipe:
    """Deflate parameters that, with a header, rebuild a gzip stream byte for byte; `family`
    names the zlib that makes them (stock zlib, or node's fork: their outputs differ)."""

    level: int
    wbits: int = 15
    mem_level: int = 8
    strategy: int = 0
    family: str = FAMILY_ZLIB

    @property
    def params(self) -> tuple[int, int, int, int]:
        return (self.level, self.wbits, self.mem_level, self.strategy)

    def compressor(self) -> zlib._Compress:
        return zlib.compressobj(self.level, zlib.DEFLATED, -self.wbits, self.mem_level, self.strategy)

    def encode(self) -> str:
        return (
            f"{self.family};level={self.level};wbits={self.wbits};memlevel={self.mem_level};"
            f"strategy={self.strategy}"
        )

    @classmethod
    def decode(cls, text: str) -> Recipe | None:
        """Parse `encode()`'s form; None when malformed or out of zlib's ranges."""
        kind, _, rest = text.partition(";")
        if kind not in FAMILIES:
            return None
        try:
            fields = dict(part.split("=", 1) for part in rest.split(";") if part)
            recipe = cls(
                int(fields["level"]),
                int(fields["wbits"]),
                int(fields["memlevel"]),
                int(fields["strategy"]),
                kind,
            )
        except (KeyError, ValueError):
            return None
        ok = 0 <= recipe.level <= 9 and 9 <= recipe.wbits <= 15
        ok = ok and 1 <= recipe.mem_level <= 9 and 0 <= recipe.strategy <= 4
        return recipe if ok else None


@dataclass(slots=True)
class Totals:
    """CRC-32 and length of the bytes a `deflate_stream` consumed (the gzip trailer's fields)."""

    crc: int = 0
    size: int = 0

    def count(self, data: bytes) -> bytes:
        """Add `data` to the totals; return it."""
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        return data

    def trailer(self) -> bytes:
        return struct.pack("<II", self.crc, self.size & 0xFFFFFFFF)


def _read_counting(raw: Path, totals: Totals, chunk: int) -> Iterator[bytes]:
    with raw.open("rb") as fh:
        while data := fh.read(chunk):
            yield totals.count(data)


def deflate_stream(
    raw: Path, recipe: Recipe, totals: Totals, chunk: int = CHUNK, node: NodeZlib | None = None
) -> Generator[bytes, None, None]:
    """Raw deflate output of `raw` under `recipe`, piece by piece (some pieces may be empty);
    `totals` is complete once the generator is exhausted. Closing it early closes the file.
    zlib's output does not depend on how its input is split (no flushes until the end).

    A node-zlib recipe needs `node` (RecompressorUnavailable without it)."""
    if recipe.family == FAMILY_NODE:
        if node is None:
            raise RecompressorUnavailable(
                f"gzip recipe {recipe.encode()!r} needs node's zlib, which is not available here "
                "(DG_GZIP_NODE); not served"
            )
        yield from node.deflate(recipe.params, _read_counting(raw, totals, chunk))
        return
    compressor = recipe.compressor()
    for data in _read_counting(raw, totals, chunk):
        yield compressor.compress(data)
    yield compressor.flush()


def gzip_pieces(header: bytes, deflated: Iterable[bytes], totals: Totals) -> Generator[bytes, None, None]:
    """A whole gzip stream piece by piece: `header`, the `deflated` pieces, then the trailer of
    `totals` (complete once `deflated` is exhausted). Closing it early closes `deflated` (a
    generator: `yield from` passes the close on)."""
    yield header
    yield from deflated
    yield totals.trailer()


def recompress(raw: Path, recipe: Recipe, header: bytes, out: Path, node: NodeZlib | None = None) -> str:
    """Write header + deflate(raw, recipe) + trailer to `out`; return its SHA-256 (hex)."""
    digest = hashlib.sha256(header)
    totals = Totals()
    with out.open("wb") as dst:
        dst.write(header)
        for piece in deflate_stream(raw, recipe, totals, node=node):
            dst.write(piece)
            digest.update(piece)
        tail = totals.trailer()
        dst.write(tail)
        digest.update(tail)
    return digest.hexdigest()
