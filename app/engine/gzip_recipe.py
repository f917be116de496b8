"""Finding the zlib parameters that rebuild a gzip stream exactly.

Two searches, both bounded by a deadline:
- `find_recipe` has the original bytes: each candidate recompresses the decompressed data and
  compares its output with the original deflate stream as it goes, giving up at the first
  differing byte (a wrong level or memLevel usually differs within the first block), so only
  the right candidate costs a full pass, and that pass is the proof.
- `find_by_hash` only has a SHA-256 (deltaglider's deltas carry no gzip bytes): each candidate
  costs a full pass, hashed under several possible headers at once.

Candidates come from `candidates(xfl, node)`, a pure ordering: the level the header's XFL byte
implies first (2: level 9, 4: level 1, 0: level 6 then the others), zlib's defaults (window 15,
memLevel 8, default strategy) before the rarer settings. Stock zlib's common settings come first
(cheap, in process); then, when a node recompressor is available, node's zlib at window 15,
memLevel 8 or 9, default strategy (what npm writes; each try starts a process, ~0.1 s); then stock
zlib's rarer settings until the deadline.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from app.engine.container_stream import stream_matches
from app.engine.gzip_stream import FAMILY_NODE, Expanded, Recipe, Totals, deflate_stream, gzip_pieces
from app.engine.node_zlib import NodeZlib
from app.errors import RecompressorUnavailable

log = logging.getLogger(__name__)

_PROBE_CHUNK = 16 << 10


def implied_levels(xfl: int) -> tuple[int, ...]:
    """Levels whose zlib/Python gzip writers set this XFL byte, most likely first."""
    if xfl == 2:
        return (9,)
    if xfl == 4:
        return (1,)
    return (6, 5, 4, 7, 8, 3, 2)


def candidates(xfl: int, node: bool = False) -> Iterator[Recipe]:
    """Every recipe once, the likeliest first (see the module docstring); node-zlib ones only
    when `node`."""
    first = implied_levels(xfl)
    levels = (*first, *(lv for lv in (6, 9, 1, 5, 4, 7, 8, 3, 2, 0) if lv not in first))
    seen: set[Recipe] = set()
    stock, node_tier = "zlib", FAMILY_NODE
    tiers = (
        (stock, (15,), (8,), (0,)),
        (stock, (15,), (9,), (0,)),
        (node_tier, (15,), (8, 9), (0,)),
        (stock, (15,), (8, 9), (1, 2, 3, 4)),
        (stock, (14, 13, 12, 11, 10, 9), (8, 9), (0,)),
        (stock, (15,), (7, 6, 5, 4, 3, 2, 1), (0,)),
        (stock, (15, 14, 13, 12, 11, 10, 9), tuple(range(1, 10)), (0, 1, 2, 3, 4)),
    )
    for family, wbits, mems, strategies in tiers:
        if family == node_tier and not node:
            continue
        for level, wb, mem, strategy in itertools.product(levels, wbits, mems, strategies):
            recipe = Recipe(level, wb, mem, strategy, family)
            if recipe not in seen:
                seen.add(recipe)
                yield recipe


def _matches(  # noqa: PLR0917 - called through functools.partial
    raw: Path, original: Path, expanded: Expanded, recipe: Recipe, sha256: str | None, node: NodeZlib | None
) -> bool:
    """True when header + deflate(raw, recipe) + trailer equals `original` exactly (and, when
    given, hashes to `sha256`: the proof that the bytes a download rebuilds are the upload's)."""
    totals = Totals()
    # Small pieces at first: a wrong candidate is usually caught within its first block.
    deflated = deflate_stream(raw, recipe, totals, chunk=_PROBE_CHUNK, node=node)
    return stream_matches(gzip_pieces(expanded.header.raw, deflated, totals), original, sha256)


def _try(check: Callable[[], bool]) -> bool:
    """A candidate whose recompressor fails (node crashed or timed out) is just not a match."""
    try:
        return check()
    except RecompressorUnavailable as err:
        log.warning("gzip recipe search: %s", err)
        return False


def find_recipe(
    raw: Path,
    original: Path,
    expanded: Expanded,
    budget_seconds: float,
    sha256: str | None,
    *,
    skip: Recipe | None = None,
    node: NodeZlib | None = None,
) -> Recipe | None:
    """The first candidate that rebuilds `original` from `raw` within the time budget, or None.

    `skip`: a candidate already tried (by `gzip_proof.StreamProof`).

    The winning candidate has been compared byte for byte, trailer included, and its output
    hashed and compared with `sha256` when given. node-zlib candidates only with `node`.
    """
    deadline = time.monotonic() + budget_seconds
    for recipe in candidates(expanded.header.xfl, node is not None):
        if recipe != skip and _try(
            functools.partial(_matches, raw, original, expanded, recipe, sha256, node)
        ):
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
    node: NodeZlib | None = None,
) -> tuple[Recipe, bytes] | None:
    """The (recipe, header) whose gzip stream of `raw` has `size` bytes and hashes to `sha256`.

    Tries `recipes` in order, each with all of `headers_for(recipe)` in one pass; stops at the
    deadline.
    """
    deadline = time.monotonic() + budget_seconds
    for recipe in recipes:
        if recipe.family == FAMILY_NODE and node is None:
            continue
        unique = list(dict.fromkeys(headers_for(recipe)))
        limit = size - 8 - min(len(h) for h in unique)
        hashers = [hashlib.sha256(h) for h in unique]
        totals, produced = Totals(), 0
        stream = deflate_stream(raw, recipe, totals, node=node)
        try:
            for piece in stream:
                produced += len(piece)
                if produced > limit:
                    break
                for hasher in hashers:
                    hasher.update(piece)
        except RecompressorUnavailable as err:
            log.warning("gzip recipe %s failed: %s", recipe.encode(), err)
            continue
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
