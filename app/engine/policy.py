"""Pure decisions of the engine: what to store, which representation to read, window sizes.

No I/O here: values in, values out, so every rule is tested directly.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.keys import basename, is_delta_candidate
from app.domain.metadata import read_field
from app.domain.sizes import MiB

# xdelta3 accepts -B between 512 KiB and 2 GiB and rounds it up to a power of two; measured on a
# 1 GiB reference, its peak RSS is about 1.55x that power of two (-B 128 MiB: 203 MiB).
XDELTA_MIN_WINDOW = 8 * MiB
XDELTA_MAX_WINDOW = 2048 * MiB
XDELTA_DECODE_WINDOW = 64 * MiB
_RSS_PER_WINDOW_BYTE = 1.55


def wants_delta(key: str, extensions: tuple[str, ...]) -> bool:
    """True when the key's file name is a delta candidate (archives and packages)."""
    return is_delta_candidate(basename(key), extensions)


# Magic numbers xdelta3 (without -D) recognises and pipes through an external decompressor.
# DeltaGlider 6.2.0 decodes without -D, so it would decompress such a reference before applying
# a delta that Glider (always -D) computed against the compressed bytes: wrong output.
_EXPANDED_MAGICS = (b"\x1f\x8b", b"BZh", b"\x1f\x9d", b"\xfd7zXZ\x00")


def expanded_by_xdelta3(head: bytes) -> bool:
    """True when a file starting with `head` is one xdelta3 decompresses unless told `-D`.

    Such a file cannot serve as a reference for DeltaGlider-readable deltas, so uploads whose
    reference would be one are stored direct (they rarely delta well with -D anyway: a
    single compressed stream changes throughout when its content changes).
    """
    return head.startswith(_EXPANDED_MAGICS)


def accept_delta(delta_size: int, file_size: int, max_ratio: float) -> bool:
    """Keep a delta only when delta_size / file_size does not exceed `max_ratio`."""
    if file_size <= 0:
        return False
    return delta_size <= max_ratio * file_size


def _pow2_at_least(value: int) -> int:
    return 1 << max(0, value - 1).bit_length()


def _pow2_at_most(value: int) -> int:
    return 1 << (max(1, value).bit_length() - 1)


def source_window(reference_size: int, budget_bytes: int) -> int:
    """xdelta3 `-B` for encoding: the whole reference when the memory budget allows.

    A power of two (xdelta3 rounds up to one anyway) covering the reference, capped so that
    xdelta3's resident memory (~1.55x the window) stays within `budget_bytes`, within
    [8 MiB, 2 GiB]. A reference larger than the window is still matched, but only within a
    sliding window of that size: content moved further than that is not found.
    """
    cover = _pow2_at_least(reference_size)
    cap = _pow2_at_most(int(budget_bytes / _RSS_PER_WINDOW_BYTE))
    return max(XDELTA_MIN_WINDOW, min(cover, cap, XDELTA_MAX_WINDOW))


def decode_window(reference_size: int, budget_bytes: int) -> int:
    """xdelta3 `-B` for decoding: at most 64 MiB.

    The decoder reads source blocks on demand from the (seekable) reference, so a small window
    costs nothing measurable (1 GiB rebuilt in 1.9 s with 64 MiB vs 2.8 s with 1 GiB) and keeps
    its memory near 75 MiB instead of the reference size.
    """
    return min(source_window(reference_size, budget_bytes), XDELTA_DECODE_WINDOW)


class Representation(enum.Enum):
    DELTA = "delta"
    DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class Found:
    """One stored representation of a logical key, as a HEAD saw it."""

    metadata: Mapping[str, str]
    last_modified: datetime


def created_at(metadata: Mapping[str, str]) -> datetime | None:
    """The writer's `dg-created-at` (any spelling) as an aware datetime, None when absent/bad."""
    raw = read_field(metadata, "created_at")
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.removesuffix("Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def choose_representation(delta: Found | None, direct: Found | None) -> Representation | None:
    """Which of `<key>.delta` and `<key>` a read serves; None when neither exists.

    Both exist only while a key switches between delta and direct (the writer removes the old
    one after the new one is in place) or after a writer died in between. The newest wins:
    by the writers' `dg-created-at` when both carry one (microsecond resolution), else by the
    store's Last-Modified. Ties go to the delta, whose bytes are verified against a hash.
    """
    if delta is None or direct is None:
        if delta is not None:
            return Representation.DELTA
        return Representation.DIRECT if direct is not None else None
    delta_time, direct_time = created_at(delta.metadata), created_at(direct.metadata)
    if delta_time is None or direct_time is None:
        delta_time, direct_time = delta.last_modified, direct.last_modified
    return Representation.DIRECT if direct_time > delta_time else Representation.DELTA
