"""A file lease: an open descriptor handed to callers as a path, released when the `with` block ends.

Caches yield `/proc/<pid>/fd/<n>` rather than a real path. Another process (xdelta3 -s PATH) opening
that link gets the very inode the descriptor holds, so:

- a memfd (anonymous, RAM-backed) can stand in for a file: decrypted or in-memory references never
  touch a disk;
- a cache file that is evicted or cleared (unlinked) while a reader holds its lease stays readable
  through the link until the lease is released, and a file renamed over it is never seen.

Linux only (needs `/proc` and `memfd_create`); Glider's supported platform. The path is valid only
inside the `with` block: after release the descriptor number may be reused by anything.
"""

from __future__ import annotations

import fcntl
import os
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

_SEALS = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


def proc_fd_path(fd: int) -> Path:
    """The path through which any process of this user can open what `fd` refers to."""
    return Path(f"/proc/{os.getpid()}/fd/{fd}")


def new_memfd(name: str) -> int:
    """An empty anonymous in-memory file (close-on-exec, sealable)."""
    return os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)


def seal(fd: int) -> None:
    """Make a memfd immutable: a reader handed its path cannot alter what other readers see."""
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)


def _release(fd: int, on_release: Callable[[], None] | None) -> None:
    try:
        os.close(fd)
    finally:
        if on_release is not None:
            on_release()


class FileLease(AbstractContextManager[Path]):
    """Owns `fd` (read-only use); `on_release` runs once after the descriptor is closed.

    Released on `__exit__`, on `close()`, or, if the caller never entered it, when it is garbage
    collected. Releasing twice is harmless. Thread-safe.
    """

    def __init__(self, fd: int, on_release: Callable[[], None] | None = None) -> None:
        self._path = proc_fd_path(fd)
        self._finalizer = weakref.finalize(self, _release, fd, on_release)

    @property
    def path(self) -> Path:
        return self._path

    def __enter__(self) -> Path:
        if not self._finalizer.alive:
            raise RuntimeError("lease already released")
        return self._path

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._finalizer()
