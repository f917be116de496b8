"""Content-addressed reference cache on local disk, least-recently-used eviction by bytes.

Layout: `<root>/v1/<ns>/<sha256>`, where `<ns>` is the first 32 hex digits of SHA-256(space_id)
(so no space id can name a path outside `root`) and `<sha256>` must be 64 lower-case hex digits.
Directories are created 0700 and files 0600 (mkstemp). A put copies the source into a `.tmp-*`
file in the same directory while hashing it, then `os.replace`s it into place: readers never see a
partial file. No fsync: a torn file after a crash fails the hash check on open and is evicted.

Readers get a `FileLease` over an open descriptor (`/proc/<pid>/fd/<n>`). An entry is pinned while
leased: eviction for room skips pinned entries, and `evict()` / `clear()` unlink them at once (the
directory empties) while the lease keeps the inode readable; those "draining" bytes still count
against the budget until the last lease is released. Invariant, after and during every operation:
stored + reserved (in-flight puts) + draining bytes <= max_bytes, so the directory never holds more.
A put that cannot make room (everything else pinned) is declined, like an oversized one.

Recency survives restarts through mtime (a hit touches it); on startup the index is rebuilt from
the directory, oldest first, stale temp files of crashed writers are removed, and the budget is
enforced. One process owns a directory: a second process sharing it would not see the first's
accounting.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from app.caches.base import (
    CacheCounters,
    ClearResult,
    EvictionListener,
    EvictionReason,
    ReferenceCache,
    ignore_eviction,
)
from app.caches.lease import FileLease
from app.errors import IntegrityError, InvalidInput

_SHA256 = re.compile(r"[0-9a-f]{64}")
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 3600.0
_CHUNK = 1024 * 1024
_Key = tuple[str, str]


@dataclass(slots=True)
class _Entry:
    """Index state of one stored file (mutable, guarded by the cache lock)."""

    size: int
    pins: int = 0
    removed: bool = False


def namespace(space_id: str) -> str:
    """The directory name for a space id: fixed-length hex, never a path component of its own."""
    return hashlib.sha256(space_id.encode("utf-8")).hexdigest()[:32]


def _mkdir_private(path: Path) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    path.chmod(0o700)  # mkdir's mode is filtered by the umask


class FilesystemReferenceCache(ReferenceCache):
    """Thread-safe disk cache under `root`, bounded by `max_bytes` (>= 0)."""

    def __init__(self, root: Path, max_bytes: int, *, on_evict: EvictionListener = ignore_eviction) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self._on_evict = on_evict
        self._root = root
        self._store = root / "v1"
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._index: OrderedDict[_Key, _Entry] = OrderedDict()
        self._bytes = 0
        self._reserved = 0
        self._draining = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        _mkdir_private(self._store)
        self._store.chmod(0o700)
        self._rebuild()

    @property
    def root(self) -> Path:
        return self._root

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    def open(self, space_id: str, sha256: str, *, verify: bool = True) -> AbstractContextManager[Path] | None:
        key = self._key(space_id, sha256)
        with self._lock:
            entry = self._index.get(key)
            fd = None
            if entry is not None:
                try:
                    fd = os.open(self._path(key), os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:  # removed behind our back: forget it
                    self._remove(key, entry)
            if entry is None or fd is None:
                self._misses += 1
                return None
            entry.pins += 1
            self._index.move_to_end(key)
        lease = FileLease(fd, on_release=lambda: self._unpin(entry))
        try:
            if verify:
                self._verify(fd, sha256, entry.size)
        except IntegrityError:
            lease.close()
            with self._lock:
                self._misses += 1
                if self._index.get(key) is entry:
                    self._evict(key, entry, EvictionReason.CORRUPT)
            raise
        except BaseException:
            lease.close()
            raise
        with contextlib.suppress(OSError):
            os.utime(fd)  # recency for the rebuild after a restart; best effort
        with self._lock:
            self._hits += 1
        return lease

    def put(self, space_id: str, sha256: str, source: Path, *, verify: bool = True) -> None:
        key = self._key(space_id, sha256)
        size = source.stat().st_size
        with self._lock:
            existing = self._index.get(key)
            if existing is not None and (verify or existing.pins):
                self._index.move_to_end(key)  # same bytes (content-addressed), or in use: keep it
                return
            if existing is not None:
                self._remove(key, existing)
            if not self._make_room(size):
                return
            self._reserved += size
        try:
            tmp = self._write_temp(key, source, sha256 if verify else None, size)
        except BaseException:
            with self._lock:
                self._reserved -= size
            raise
        with self._lock:
            self._reserved -= size
            if key in self._index:  # a concurrent put of the same key won
                tmp.unlink(missing_ok=True)
                return
            os.replace(tmp, self._path(key))
            self._index[key] = _Entry(size)
            self._bytes += size

    def evict(self, space_id: str, sha256: str, *, reason: EvictionReason = EvictionReason.REQUESTED) -> bool:
        key = self._key(space_id, sha256)
        with self._lock:
            entry = self._index.get(key)
            if entry is None:
                return False
            self._evict(key, entry, reason)
            return True

    def clear(self) -> ClearResult:
        with self._lock:
            result = ClearResult(bytes_freed=self._bytes, entries_freed=len(self._index))
            for key, entry in list(self._index.items()):
                self._remove(key, entry)
            for ns_dir in self._store.iterdir():
                with contextlib.suppress(OSError):  # holds an in-flight temp file, or not a dir
                    ns_dir.rmdir()
        return result

    def counters(self) -> CacheCounters:
        with self._lock:
            return CacheCounters(
                hits=self._hits,
                misses=self._misses,
                evictions=self._evictions,
                entries=len(self._index),
                bytes=self._bytes,
            )

    # -- internals -------------------------------------------------------------------------------

    def _key(self, space_id: str, sha256: str) -> _Key:
        if not _SHA256.fullmatch(sha256):
            raise InvalidInput("reference cache keys are lower-case hex SHA-256 digests")
        return namespace(space_id), sha256

    def _path(self, key: _Key) -> Path:
        return self._store / key[0] / key[1]

    def _verify(self, fd: int, sha256: str, size: int) -> None:
        digest = hashlib.sha256()
        seen = 0
        with open(fd, "rb", closefd=False) as fh:
            while block := fh.read(_CHUNK):
                digest.update(block)
                seen += len(block)
        if seen != size or digest.hexdigest() != sha256:
            raise IntegrityError(f"cached reference {sha256[:12]} failed verification; evicted")

    def _write_temp(self, key: _Key, source: Path, expect_sha: str | None, size: int) -> Path:
        """Copy `source` into a private temp file next to its final place; return the temp path."""
        ns_dir = self._store / key[0]
        with self._lock:  # clear() removes empty directories under the same lock
            _mkdir_private(ns_dir)
            fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=ns_dir)
        tmp = Path(name)
        try:
            digest = hashlib.sha256()
            written = 0
            with open(fd, "wb") as out, source.open("rb") as src:
                while block := src.read(_CHUNK):
                    digest.update(block)
                    out.write(block)
                    written += len(block)
            if written != size:
                raise IntegrityError("reference changed while being cached; not cached")
            if expect_sha is not None and digest.hexdigest() != expect_sha:
                raise IntegrityError(f"source does not hash to {expect_sha[:12]}; not cached")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _make_room(self, size: int) -> bool:
        """Evict unpinned entries, oldest first, until `size` more bytes fit. Caller holds the lock."""
        if size > self._max_bytes:
            return False
        victims = iter([k for k, e in self._index.items() if not e.pins])
        while self._bytes + self._reserved + self._draining + size > self._max_bytes:
            victim = next(victims, None)
            if victim is None:
                return False
            self._evict(victim, self._index[victim], EvictionReason.SPACE)
        return True

    def _remove(self, key: _Key, entry: _Entry) -> None:
        """Unlink and unindex one entry; pinned bytes keep counting until released. Lock held."""
        self._path(key).unlink(missing_ok=True)
        del self._index[key]
        self._bytes -= entry.size
        if entry.pins:
            entry.removed = True
            self._draining += entry.size

    def _evict(self, key: _Key, entry: _Entry, reason: EvictionReason) -> None:
        """`_remove`, counted and told to the listener. Lock held."""
        self._remove(key, entry)
        self._evictions += 1
        self._on_evict(reason)

    def _unpin(self, entry: _Entry) -> None:
        with self._lock:
            entry.pins -= 1
            if entry.removed and entry.pins == 0:
                self._draining -= entry.size

    def _rebuild(self) -> None:
        """Index what a previous run left, least recently used first, then enforce the budget."""
        found: list[tuple[float, _Key, int]] = []
        now = time.time()
        for ns_dir in self._store.iterdir():
            if not ns_dir.is_dir():
                continue
            for path in ns_dir.iterdir():
                st = path.stat()
                if path.name.startswith(_TMP_PREFIX):
                    if now - st.st_mtime > _STALE_TMP_SECONDS:
                        path.unlink(missing_ok=True)
                elif _SHA256.fullmatch(path.name) and path.is_file():
                    found.append((st.st_mtime, (ns_dir.name, path.name), st.st_size))
        found.sort()
        with self._lock:
            for _mtime, key, size in found:
                self._index[key] = _Entry(size)
                self._bytes += size
            self._make_room(0)
