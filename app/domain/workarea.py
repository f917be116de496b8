"""A service process's private scratch directory, and the sweep of dead processes' leftovers.

Spooled request bodies, deltas being encoded and rebuilt downloads can be as large as an upload;
a process killed with SIGKILL (OOM killer, `kill -9`, a node failure) never deletes them. Each
process therefore works in its own `proc-*` directory under a shared root and holds an exclusive
`flock` on `proc-*/.owner` for its lifetime. The kernel drops that lock when the process dies,
however it dies, so at start a process removes every `proc-*` directory whose lock it can take:
those owners are gone. Live processes (other replicas or services sharing the root) keep theirs.
Claims and sweeps are serialised by a lock on `<root>/.sweep.lock`, so a directory is never seen
between its creation and its lock. Files outside `proc-*` directories are never touched.

Linux/macOS only (fcntl). Not for network filesystems whose flock is not shared between hosts.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "proc-"
OWNER = ".owner"
SWEEP_LOCK = ".sweep.lock"


@dataclass(frozen=True, slots=True)
class Swept:
    directories: int
    files: int
    bytes: int


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _is_abandoned(directory: Path) -> bool:
    """True when no live process holds `directory`'s owner lock (or it never got one)."""
    try:
        fd = os.open(directory / OWNER, os.O_RDWR)
    except FileNotFoundError:
        return True  # created, then killed before locking (claims hold the sweep lock, so not in progress)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _size(directory: Path) -> tuple[int, int]:
    files = total = 0
    for path in directory.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and path.name != OWNER:
                files += 1
                total += path.stat().st_size
    return files, total


def sweep(root: Path) -> Swept:
    """Remove the `proc-*` directories of processes that are gone. Call with the sweep lock held."""
    directories = files = total = 0
    for entry in sorted(root.glob(PREFIX + "*")):
        if not entry.is_dir() or not _is_abandoned(entry):
            continue
        count, size = _size(entry)
        shutil.rmtree(entry, ignore_errors=True)
        directories, files, total = directories + 1, files + count, total + size
    return Swept(directories, files, total)


class WorkArea:
    """This process's scratch directory (`path`), removed by `close()`. Thread-safe to use."""

    def __init__(self, path: Path, owner_fd: int) -> None:
        self.path = path
        self._owner_fd: int | None = owner_fd

    @classmethod
    def claim(cls, root: Path) -> WorkArea:
        """Create `root` (0700) if needed, sweep dead owners' directories, make and lock ours."""
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(root / SWEEP_LOCK):
            swept = sweep(root)
            path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))  # 0700
            fd = os.open(path / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if swept.directories:
            log.info(
                "removed %d leftover scratch files (%d bytes) of %d stopped processes under %s",
                swept.files, swept.bytes, swept.directories, root,
            )  # fmt: skip
        return cls(path, fd)

    def close(self) -> None:
        """Delete the directory and everything still in it, then let the lock go. Idempotent."""
        fd, self._owner_fd = self._owner_fd, None
        if fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(fd)
