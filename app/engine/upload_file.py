"""The file an upload stores, as the writer and its gzip half see it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.domain.keys import basename


@dataclass(frozen=True, slots=True)
class Upload:
    """A complete local file for `bucket`/`key` with its SHA-256 (lower-case hex) and size."""

    bucket: str
    key: str
    path: Path
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return basename(self.key)
