"""The ReferenceCache interface shared by the memory, filesystem and encrypted caches.

Entries are keyed by (space_id, sha256): a `reference.bin` never changes once written, so the
hash is the version. Every implementation is thread-safe.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path


class EvictionReason(enum.StrEnum):
    """Why an entry left a cache (the `reason` label of dg_reference_cache_evictions_total)."""

    SPACE = "space"  # least recently used, dropped to fit a new entry in the byte budget
    CORRUPT = "corrupt"  # failed its hash or authentication check when opened
    UNREADABLE = "unreadable"  # encrypted under another key (rotated, or a restart without one)
    REQUESTED = "requested"  # a caller's evict()


EvictionListener = Callable[[EvictionReason], None]
"""Told of every eviction (not of clear()). Called with the cache's lock held: it must be quick
and must not call back into the cache. The caches stay free of metrics; the wiring passes a
listener that counts."""


def ignore_eviction(reason: EvictionReason) -> None:
    """The default listener."""


@dataclass(frozen=True, slots=True)
class ClearResult:
    bytes_freed: int
    entries_freed: int


@dataclass(frozen=True, slots=True)
class CacheCounters:
    """Cumulative counters plus current occupancy, for /metrics."""

    hits: int
    misses: int
    evictions: int
    entries: int
    bytes: int


class ReferenceCache(abc.ABC):
    @abc.abstractmethod
    def open(self, space_id: str, sha256: str, *, verify: bool = True) -> AbstractContextManager[Path] | None:
        """On a hit, a context manager yielding a plaintext file whose bytes hash to `sha256`.

        The path is valid only inside the `with` block (an encrypted cache deletes its
        decrypted copy on exit). Returns None on a miss. A stored entry whose bytes no longer
        match is evicted and IntegrityError is raised (from `open`, before anything is yielded).

        `verify=False` is only for a wrapper that authenticates the bytes itself (the encrypted
        cache stores ciphertext, whose hash is not `sha256`): the key is then just a name.
        """

    @abc.abstractmethod
    def put(self, space_id: str, sha256: str, source: Path, *, verify: bool = True) -> None:
        """Store a copy of `source` (left untouched). Entries over the budget are not kept.

        With `verify` (the default) a source whose bytes do not hash to `sha256` raises
        IntegrityError and nothing is stored; `verify=False` as for `open`.
        """

    @abc.abstractmethod
    def evict(self, space_id: str, sha256: str, *, reason: EvictionReason = EvictionReason.REQUESTED) -> bool:
        """Drop one entry; True if it was present (then the listener hears `reason`)."""

    @abc.abstractmethod
    def clear(self) -> ClearResult:
        """Drop everything not currently open; safe while other threads read and write."""

    @abc.abstractmethod
    def counters(self) -> CacheCounters: ...
