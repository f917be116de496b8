"""Temporary files for deltas, rebuilds and downloads, always removed afterwards."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
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


@contextmanager
def replacing(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; on a clean exit it atomically becomes `dest`.

    On an exception the temporary file is removed and `dest` is left as it was, so a reader of
    `dest` never sees a partial or unverified file.
    """
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    part = Path(name)
    try:
        yield part
        # mkstemp makes 0600 files; give the result the usual mode (or keep the replaced file's).
        os.chmod(part, dest.stat().st_mode & 0o7777 if dest.exists() else 0o644)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
