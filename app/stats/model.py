"""Stats values and the pure arithmetic that turns tallies into them.

Definitions (the wire format's, see docs/WIRE_FORMAT.md "Stats cache documents"):
- `object_count` = `delta_objects` + `direct_objects`: every listed object except `reference.bin`
  files and anything under `.deltaglider/`. A key ending in `.delta` is a delta, anything else direct.
- `total_size`: original (logical) bytes. A direct object's original is its stored size; a delta's
  is `dg-file-size` from its metadata (known only after a HEAD, or from stored facts).
- `compressed_size`: stored bytes of deltas, direct objects and every `reference.bin`.
- `space_saved` = max(0, total_size - compressed_size); `average_compression_ratio` =
  space_saved / total_size, in [0, 1] (0 when total_size is 0): despite its name (DeltaGlider's,
  kept for the wire format) it is the savings fraction, 0.9 meaning a tenth of the bytes stored.

A delta whose original is unknown is *estimated* (see `estimate_unknown`), and the result is then
marked inexact. DeltaGlider counts such deltas as 0 original bytes, which makes quick-mode ratios
meaningless; an estimate bounded by what the listing shows is closer and honestly labelled.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

from app.errors import InvalidInput


class StatsMode(enum.StrEnum):
    """How much metadata a computation may fetch.

    QUICK: LIST only (plus stored facts). SAMPLED: at most one HEAD per deltaspace whose deltas are
    all unknown. DETAILED: a HEAD for every delta whose original size is not already known.
    """

    QUICK = "quick"
    SAMPLED = "sampled"
    DETAILED = "detailed"

    @classmethod
    def parse(cls, value: str) -> StatsMode:
        try:
            return cls(value.lower())
        except ValueError:
            raise InvalidInput(f"unknown stats mode {value!r}: use quick, sampled or detailed") from None


@dataclass(frozen=True, slots=True)
class BucketStats:
    """The eight figures of the wire format's `stats` object (sizes in bytes)."""

    bucket: str
    object_count: int
    total_size: int
    compressed_size: int
    space_saved: int
    average_compression_ratio: float
    delta_objects: int
    direct_objects: int

    def to_dict(self) -> dict[str, str | int | float]:
        return asdict(self)


def summarize(
    bucket: str,
    *,
    delta_objects: int,
    direct_objects: int,
    original_bytes: int,
    stored_bytes: int,
) -> BucketStats:
    """Derive space_saved and the ratio from raw totals (pure)."""
    saved = max(0, original_bytes - stored_bytes)
    ratio = min(1.0, saved / original_bytes) if original_bytes > 0 else 0.0
    return BucketStats(
        bucket=bucket,
        object_count=delta_objects + direct_objects,
        total_size=original_bytes,
        compressed_size=stored_bytes,
        space_saved=saved,
        average_compression_ratio=round(ratio, 6),
        delta_objects=delta_objects,
        direct_objects=direct_objects,
    )


def estimate_unknown(
    *,
    unknown_count: int,
    unknown_stored: int,
    known_count: int,
    known_original: int,
    reference_size: int | None,
) -> int:
    """Estimated original bytes of a deltaspace's `unknown_count` deltas (pure).

    Best evidence first: the mean original of the deltaspace's known deltas (what sampled mode
    extrapolates from), else the size of its reference.bin (a full earlier version of the same
    artifact), else the deltas' own stored bytes (a floor: an original is never smaller in a
    delta store that enforces a max ratio, so this never inflates the savings).
    """
    if unknown_count <= 0:
        return 0
    if known_count > 0:
        return round(known_original * unknown_count / known_count)
    if reference_size is not None:
        return reference_size * unknown_count
    return unknown_stored
