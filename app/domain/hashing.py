"""SHA-256 of local files, streamed in fixed-size chunks (never the whole file in memory)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

CHUNK = 1024 * 1024


def sha256_file(path: Path, on_block: Callable[[int], object] | None = None) -> str:
    """Hex SHA-256 of `path`; `on_block(n)` is called after each block of n bytes (progress)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            if on_block is not None:
                on_block(len(block))
    return digest.hexdigest()
