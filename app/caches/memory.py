"""In-process reference cache: least-recently-used eviction by bytes, under one lock.

Entries are immutable `bytes` in the Python heap. `open()` hashes the entry (a hit is verified
every time), copies it into a sealed memfd and yields that memfd's `/proc/<pid>/fd/<n>` path
(see `app.caches.lease`), so a subprocess such as xdelta3 can read it and nothing touches a disk.
While a lease is open the process holds the entry twice (heap + memfd); evicting or clearing the
entry meanwhile frees the heap copy only, and the reader is unaffected.

The budget counts stored bytes only (not the memfd copies of open leases): after every operation
`counters().bytes <= max_bytes`. A source larger than the budget is silently not kept.
Counters: `evictions` counts entries dropped for room, for failed verification, and by `evict()`;
`clear()` reports what it dropped in its ClearResult instead.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from pathlib import Path

from app.caches.base import (
    CacheCounters,
    ClearResult,
    EvictionListener,
    EvictionReason,
    ReferenceCache,
    ignore_eviction,
)
from app.caches.lease import FileLease, new_memfd, seal
from app.errors import IntegrityError

_Key = tuple[str, str]


def memfd_lease(data: bytes, name: str = "glider-reference") -> FileLease:
    """A lease over a sealed memfd holding a copy of `data`."""
    fd = new_memfd(name)
    try:
        with open(fd, "wb", closefd=False) as fh:
            fh.write(data)
        seal(fd)
    except BaseException:
        os.close(fd)
        raise
    return FileLease(fd)


class MemoryReferenceCache(ReferenceCache):
    """Thread-safe LRU of whole references, bounded by `max_bytes` (>= 0)."""

    def __init__(self, max_bytes: int, *, on_evict: EvictionListener = ignore_eviction) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self._max_bytes = max_bytes
        self._on_evict = on_evict
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, bytes] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    def open(self, space_id: str, sha256: str, *, verify: bool = True) -> AbstractContextManager[Path] | None:
        key = (space_id, sha256)
        with self._lock:
            data = self._entries.get(key)
            if data is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
        # Hash outside the lock: a 500 MB entry must not stall every other reader.
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            with self._lock:
                self._misses += 1
                if self._entries.get(key) is data:
                    self._evict(key, EvictionReason.CORRUPT)
            raise IntegrityError(f"cached reference {sha256[:12]} failed verification; evicted")
        lease = memfd_lease(data)
        with self._lock:
            self._hits += 1
        return lease

    def put(self, space_id: str, sha256: str, source: Path, *, verify: bool = True) -> None:
        key = (space_id, sha256)
        with self._lock:
            if verify and key in self._entries:
                # Content-addressed: same key, same bytes. Only refresh recency.
                self._entries.move_to_end(key)
                return
        if source.stat().st_size > self._max_bytes:
            return
        data = source.read_bytes()
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(f"source does not hash to {sha256[:12]}; not cached")
        size = len(data)
        if size > self._max_bytes:
            return
        with self._lock:
            if key in self._entries:
                if verify:
                    self._entries.move_to_end(key)
                    return
                self._drop(key)
            while self._entries and self._bytes + size > self._max_bytes:
                self._evict(next(iter(self._entries)), EvictionReason.SPACE)
            self._entries[key] = data
            self._bytes += size

    def evict(self, space_id: str, sha256: str, *, reason: EvictionReason = EvictionReason.REQUESTED) -> bool:
        with self._lock:
            if (space_id, sha256) not in self._entries:
                return False
            self._evict((space_id, sha256), reason)
            return True

    def clear(self) -> ClearResult:
        with self._lock:
            result = ClearResult(bytes_freed=self._bytes, entries_freed=len(self._entries))
            self._entries.clear()
            self._bytes = 0
        return result

    def counters(self) -> CacheCounters:
        with self._lock:
            return CacheCounters(
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
                entries=len(self._entries),
                bytes=self._bytes,
            )

    def _drop(self, key: _Key) -> None:
        """Remove one entry; caller holds the lock."""
        self._bytes -= len(self._entries.pop(key))

    def _evict(self, key: _Key, reason: EvictionReason) -> None:
        """Remove one entry, count it and tell the listener; caller holds the lock."""
        self._drop(key)
        self._evictions += 1
        self._on_evict(reason)
