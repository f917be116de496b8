"""The ReferenceCache interface shared by the memory, filesystem and encrypted caches.

Entries are keyed by (space_id, sha256): a `reference.bin` never changes once written, so the
hash is the version. Every implementation is thread-safe.
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path


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
    def evict(self, space_id: str, sha256: str) -> bool:
        """Drop one entry; True if it was present."""

    @abc.abstractmethod
    def clear(self) -> ClearResult:
        """Drop everything not currently open; safe while other threads read and write."""

    @abc.abstractmethod
    def counters(self) -> CacheCounters: ...
