"""Atomic file replacement: write beside the target, fsync, then `os.replace`.

Readers of the target see either the old file or the complete new one, never a partial file: the
temporary file lives in the target's own directory (same filesystem, so the rename is atomic) and
is removed when anything fails before the rename.
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


def commit(tmp: Path, target: Path) -> None:
    """Flush `tmp` to disk and rename it over `target` in one step.

    The new file keeps the permission bits of the file it replaces (a checked-in manifest stays
    as it was), or gets 0644 instead of mkstemp's private 0600.
    """
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = DEFAULT_MODE
    os.chmod(tmp, mode)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def write_text(target: Path, text: str) -> None:
    """Replace `target` with `text` (UTF-8) atomically."""
    with temp_beside(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
        commit(tmp, target)
