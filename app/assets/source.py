"""Where an asset's bytes come from: the `AssetSource` interface and the version it hands back.

Two implementations: `EngineSource` (S3 directly, through the delta engine: deltas rebuilt and
SHA-verified) and `GliderServerSource` (a Glider server over HTTP). The cache only stores and
compares what a source returns; it never interprets validators.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RemoteVersion:
    """What the cache remembers about the remote copy it holds.

    `validator` is an opaque strong identifier that the issuing source compares as a plain string
    (an S3 ETag, a server ETag); the empty string means "unknown", which makes the next
    revalidation fetch again. `locator` is the source's note of which remote object the
    validator belongs to (for S3: the stored key, `K` or `K.delta`). `sha256` and `size`
    describe the logical bytes.
    """

    validator: str
    locator: str
    sha256: str
    size: int


class AssetSource(abc.ABC):
    """Blocking, thread-safe access to remote assets. Errors are `app.errors` classes:
    ObjectNotFound/BucketNotFound, IntegrityError (bytes failed verification), StorageUnavailable
    (unreachable: the cache may then serve a stale copy), AccessDenied/Unauthorized."""

    @abc.abstractmethod
    def fetch(self, bucket: str, key: str, dest: Path) -> RemoteVersion:
        """Write the verified logical bytes of `bucket/key` into `dest` (overwritten)."""

    @abc.abstractmethod
    def refresh(self, bucket: str, key: str, held: RemoteVersion, dest: Path) -> RemoteVersion | None:
        """Check `held` against the remote with one conditional request.

        None: `held` is still current; nothing was downloaded and `dest` is untouched. Otherwise
        the new verified bytes are in `dest` and their version is returned.
        """

    @abc.abstractmethod
    def publish(self, bucket: str, key: str, path: Path, sha256: str) -> None:
        """Store `path` at `bucket/key` write-once.

        Raise AlreadyExists when anything is already stored under that logical key; an existing
        object is never overwritten, and of two racing publishers exactly one succeeds.
        """
