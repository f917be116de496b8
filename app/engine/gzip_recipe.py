"""Finding the zlib parameters that rebuild a gzip stream exactly.

Two searches, both bounded by a deadline:
- `find_recipe` has the original bytes: each candidate recompresses the decompressed data and
  compares its output with the original deflate stream as it goes, giving up at the first
  differing byte (a wrong level or memLevel usually differs within the first block), so only
  the right candidate costs a full pass, and that pass is the proof.
- `find_by_hash` only has a SHA-256 (deltaglider's deltas carry no gzip bytes): each candidate
  costs a full pass, hashed under several possible headers at once.

Candidates come from `candidates(xfl)`, a pure ordering: the level the header's XFL byte implies
first (2: level 9, 4: level 1, 0: level 6 then the others), zlib's defaults (window 15, memLevel 8,
default strategy) before the rarer settings.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from app.engine.gzip_stream import Expanded, Recipe, Totals, deflate_stream

_PROBE_CHUNK = 16 << 10


def implied_levels(xfl: int) -> tuple[int, ...]:
    """Levels whose zlib/Python gzip writers set this XFL byte, most likely first."""
    if xfl == 2:
        return (9,)
    if xfl == 4:
        return (1,)
    return (6, 5, 4, 7, 8, 3, 2)


def candidates(xfl: int) -> Iterator[Recipe]:
    """Every recipe once, the likeliest first (see the module docstring)."""
    first = implied_levels(xfl)
    levels = (*first, *(lv for lv in (6, 9, 1, 5, 4, 7, 8, 3, 2, 0) if lv not in first))
    seen: set[Recipe] = set()
    tiers = (
        ((15,), (8,), (0,)),
        ((15,), (9,), (0,)),
        ((15,), (8, 9), (1, 2, 3, 4)),
        ((14, 13, 12, 11, 10, 9), (8, 9), (0,)),
        ((15,), (7, 6, 5, 4, 3, 2, 1), (0,)),
        ((15, 14, 13, 12, 11, 10, 9), tuple(range(1, 10)), (0, 1, 2, 3, 4)),
    )
    for wbits, mems, strategies in tiers:
        for level, wb, mem, strategy in itertools.product(levels, wbits, mems, strategies):
            recipe = Recipe(level, wb, mem, strategy)
            if recipe not in seen:
                seen.add(recipe)
                yield recipe


def _matches(raw: Path, original: Path, expanded: Expanded, recipe: Recipe, sha256: str | None) -> bool:
    """True when header + deflate(raw, recipe) + trailer equals `original` exactly (and, when
    given, hashes to `sha256`: the proof that the bytes a download rebuilds are the upload's)."""
    digest = hashlib.sha256(expanded.header.raw)
    with original.open("rb") as fh:
        fh.seek(expanded.deflate_start)
        remaining = expanded.deflate_end - expanded.deflate_start
        # Small pieces at first: a wrong candidate is usually caught within its first block.
        totals = Totals()
        stream = deflate_stream(raw, recipe, totals, chunk=_PROBE_CHUNK)
        try:
            for piece in stream:
                if len(piece) > remaining or fh.read(len(piece)) != piece:
                    return False
                remaining -= len(piece)
                digest.update(piece)
        finally:
            stream.close()
        tail = totals.trailer()
        if remaining != 0 or fh.read(9) != tail:
            return False
    digest.update(tail)
    return sha256 is None or digest.hexdigest() == sha256


def find_recipe(
    raw: Path,
    original: Path,
    expanded: Expanded,
    budget_seconds: float,
    sha256: str | None,
    *,
    skip: Recipe | None = None,
) -> Recipe | None:
    """The first candidate that rebuilds `original` from `raw` within the time budget, or None.

    `skip`: a candidate already tried (by `gzip_proof.StreamProof`).

    The winning candidate has been compared byte for byte, trailer included, and its output
    hashed and compared with `sha256` when given.
    """
    deadline = time.monotonic() + budget_seconds
    for recipe in candidates(expanded.header.xfl):
        if recipe != skip and _matches(raw, original, expanded, recipe, sha256):
            return recipe
        if time.monotonic() > deadline:
            return None
    return None


def find_by_hash(
    raw: Path,
    headers_for: Callable[[Recipe], Sequence[bytes]],
    sha256: str,
    size: int,
    *,
    recipes: Iterable[Recipe],
    budget_seconds: float,
) -> tuple[Recipe, bytes] | None:
    """The (recipe, header) whose gzip stream of `raw` has `size` bytes and hashes to `sha256`.

    Tries `recipes` in order, each with all of `headers_for(recipe)` in one pass; stops at the
    deadline.
    """
    deadline = time.monotonic() + budget_seconds
    for recipe in recipes:
        unique = list(dict.fromkeys(headers_for(recipe)))
        limit = size - 8 - min(len(h) for h in unique)
        hashers = [hashlib.sha256(h) for h in unique]
        totals, produced = Totals(), 0
        stream = deflate_stream(raw, recipe, totals)
        try:
            for piece in stream:
                produced += len(piece)
                if produced > limit:
                    break
                for hasher in hashers:
                    hasher.update(piece)
        finally:
            stream.close()
        if produced <= limit:
            tail = totals.trailer()
            for header, hasher in zip(unique, hashers, strict=True):
                hasher.update(tail)
                if len(header) + produced + 8 == size and hasher.hexdigest() == sha256:
                    return recipe, header
        if time.monotonic() > deadline:
            return None
    return None
