"""Local files that are never seen half-written: scratch files removed after use, and atomic
replacement (write beside the target, then `os.replace`).

The temporary file lives in the target's own directory (same filesystem, so the rename is atomic)
and is removed when anything fails before the rename.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".glider-tmp-"
DEFAULT_MODE = 0o644


@contextlib.contextmanager
def scratch_file(directory: Path | None, suffix: str = "") -> Iterator[Path]:
    """Yield the path of a new empty file in `directory` (system temp when None); delete it after."""
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="glider-", suffix=suffix, dir=directory)
    os.close(fd)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def temp_beside(target: Path) -> Iterator[Path]:
    """Yield an empty temporary path in `target`'s directory; it is deleted on exit if still there.

    Callers fill it, then call `commit(tmp, target)` inside the block.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def commit(tmp: Path, target: Path, *, durable: bool = True) -> None:
    """Rename `tmp` over `target` in one step (flushed to disk first when `durable`).

    The new file keeps the permission bits of the file it replaces, or gets 0644 instead of
    mkstemp's private 0600. `durable=False` skips the fsync for files that only need to be
    complete for readers of this machine (rebuilt downloads), not to survive a power loss.
    """
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = DEFAULT_MODE
    os.chmod(tmp, mode)
    if durable:
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp, target)


@contextlib.contextmanager
def replacing(target: Path, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on a clean exit it atomically becomes `target`.

    On an exception the temporary file is removed and `target` is left as it was, so a reader
    never sees a partial or unverified file.
    """
    with temp_beside(target) as tmp:
        yield tmp
        commit(tmp, target, durable=durable)


def write_text(target: Path, text: str) -> None:
    """Replace `target` with `text` (UTF-8) atomically and durably."""
    with temp_beside(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
        commit(tmp, target)
