"""What every compressed container (bzip2, xz; gzip has its own modules) shares: bounded
streaming expansion, the recipe proof, and writing a recompressed stream.

A codec (`ContainerCodec`) says which bytes are its format, which recipes may have made a stream
(a pure function of the stream's first bytes), and how to compress content under a recipe. A
recipe is kept only when its output equals the original file byte for byte and hashes to the
upload's SHA-256 (`find_recipe`); the comparison stops at the first differing byte, so a wrong
candidate usually costs one block, and the right one's full pass is the proof.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.engine.gzip_stream import CHUNK, ExpandLimits

HEAD_BYTES = 64  # enough for every codec's `candidates` (xz: stream header + first block header)


@dataclass(frozen=True, slots=True)
class Content:
    """A clean single-stream container's decompressed copy."""

    raw_size: int
    raw_sha256: str


class Decompressor(Protocol):
    """`bz2.BZ2Decompressor` and `lzma.LZMADecompressor` share this shape."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class Compressor(Protocol):
    """`bz2.BZ2Compressor` and `lzma.LZMACompressor` share this shape."""

    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


def compressed_pieces(raw: Path, compressor: Compressor) -> Generator[bytes]:
    """`compressor`'s output for the file `raw`, piece by piece (some may be empty)."""
    with raw.open("rb") as fh:
        while data := fh.read(CHUNK):
            yield compressor.compress(data)
    yield compressor.flush()


class ContainerCodec(Protocol):
    """One compressed format: its `form` name in metadata and its recipe family."""

    @property
    def form(self) -> str: ...

    def matches(self, head: bytes) -> bool:
        """True when `head` (the file's first bytes) starts a stream of this format."""
        ...

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """What its decompressor raises for corrupt input."""
        ...

    def decompressor(self) -> Decompressor: ...

    def candidates(self, head: bytes) -> Sequence[str]:
        """Recipes that may have made the stream starting with `head`, likeliest first (pure)."""
        ...

    def compress(self, raw: Path, recipe: str) -> Generator[bytes]:
        """The stream `recipe` makes of `raw`; ValueError for a recipe this codec does not know."""
        ...


def read_head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)


def expand_stream(
    path: Path, out: Path, codec: ContainerCodec, limits: ExpandLimits, what: str
) -> Content | None:
    """Decompress `path` into `out`, at most CHUNK bytes per call (a bomb is stopped while it
    expands: DecompressionBomb); None unless exactly one complete stream with nothing after it
    (corrupt, truncated, multi-stream, trailing bytes)."""
    inflater = codec.decompressor()
    corrupt: tuple[type[Exception], ...] = (*codec.errors, EOFError)
    size = path.stat().st_size
    digest, produced = hashlib.sha256(), 0
    with path.open("rb") as src, out.open("wb") as dst:
        while not inflater.eof:
            data = b""
            if inflater.needs_input:
                data = src.read(CHUNK)
                if not data:
                    return None  # truncated
            try:
                piece = inflater.decompress(data, CHUNK)
            except corrupt:
                return None
            produced += len(piece)
            limits.check(produced, size, what)
            dst.write(piece)
            digest.update(piece)
        if inflater.unused_data or src.read(1):
            return None  # another stream, padding or trailing bytes
    return Content(produced, digest.hexdigest())


def stream_matches(pieces: Generator[bytes], original: Path, sha256: str | None) -> bool:
    """True when `pieces` joined equal `original` exactly (and hash to `sha256` when given)."""
    digest = hashlib.sha256()
    with closing(pieces), original.open("rb") as fh:
        for piece in pieces:
            if fh.read(len(piece)) != piece:
                return False
            digest.update(piece)
        if fh.read(1):
            return False
    return sha256 is None or digest.hexdigest() == sha256


def find_recipe(
    codec: ContainerCodec, raw: Path, original: Path, budget_seconds: float, sha256: str | None
) -> str | None:
    """The first candidate recipe whose output is `original` byte for byte, within the budget."""
    deadline = time.monotonic() + budget_seconds
    for recipe in codec.candidates(read_head(original)):
        if stream_matches(codec.compress(raw, recipe), original, sha256):
            return recipe
        if time.monotonic() > deadline:
            return None
    return None


def write_stream(pieces: Generator[bytes], out: Path) -> str:
    """Write `pieces` to `out`; return their SHA-256 (hex)."""
    digest = hashlib.sha256()
    with closing(pieces), out.open("wb") as dst:
        for piece in pieces:
            dst.write(piece)
            digest.update(piece)
    return digest.hexdigest()
