"""The versioned cache: logical asset paths resolved through a manifest to exact, verified bytes.

`VersionedCache(cache, manifest_path, bucket)` reads the manifest on every call (it is small, and
a checkout may change it at any time), maps a pinned entry to its versioned key (naming scheme in
`app.assets.manifest`) and asks the asset cache for it with the pinned SHA-256, so bytes that do
not match the pin are refused (IntegrityError) whether they come from S3 or the local cache.
Versioned objects are written once and never change, so a pinned fetch is never revalidated
against S3; the pin, checked on every call, is what guards the bytes.

Publishing (`add`, `update`) uploads the new version write-once *before* touching the manifest:
when another publisher already created that version, AlreadyExists is raised and neither the
bucket nor the manifest changes. The manifest is then rewritten under a lock, and only if its
entry is still the one the new version was derived from (Conflict otherwise; the uploaded
version stays in the bucket, harmless, and can be pinned by hand).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import filelock

from app.assets.cache import AssetCache
from app.assets.location import S3Url
from app.assets.manifest import Entry, Manifest, Pinned, normalize_path, versioned_key
from app.assets.revalidation import Freshness
from app.assets.versions import INITIAL_VERSION, Bump, Version
from app.domain.hashing import sha256_file
from app.domain.keys import validate_bucket
from app.errors import AlreadyExists, Conflict, InvalidInput, NotFound

MANIFEST_LOCK_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Published:
    path: str
    version: Version
    sha256: str
    url: S3Url


class VersionedCache:
    def __init__(self, cache: AssetCache, manifest_path: Path, bucket: str) -> None:
        self.cache = cache
        self.manifest_path = manifest_path
        self.bucket = validate_bucket(bucket)

    def manifest(self) -> Manifest:
        return Manifest.load(self.manifest_path)

    def location(self, logical: str, entry: Entry | None = None) -> str:
        """Where `logical` comes from: `s3://...` for pinned entries and s3 overrides, else a local path."""
        entry = entry if entry is not None else self.manifest().get(logical)
        if isinstance(entry, Pinned):
            return str(S3Url(self.bucket, versioned_key(logical, entry.version)))
        if S3Url.matches(entry.location):
            return entry.location
        return str((self.manifest_path.parent / entry.location).resolve())

    def path(self, logical: str) -> Path:
        """The local path of the asset the manifest pins for `logical` (see the module docstring).

        Raises NotFound (no entry, or a local override that does not exist), IntegrityError
        (bytes differ from the pin) and the asset cache's errors.
        """
        entry = self.manifest().get(logical)
        if isinstance(entry, Pinned):
            url = S3Url(self.bucket, versioned_key(logical, entry.version))
            asset = self.cache.get(
                url.bucket, url.key, freshness=Freshness.never(), expected_sha256=entry.sha256
            )
            return asset.path
        location = self.location(logical, entry)
        if S3Url.matches(location):
            return self.cache.path(location)
        local = Path(location)
        if not local.exists():
            raise NotFound(f"manifest override for {normalize_path(logical)!r} names a missing file: {local}")
        return local

    def add(self, logical: str, file: Path, version: Version = INITIAL_VERSION) -> Published:
        """Publish the first pinned version of `logical` (an override entry may be replaced)."""
        current = Manifest.load(self.manifest_path, missing_ok=True).entries.get(normalize_path(logical))
        if isinstance(current, Pinned):
            raise Conflict(
                f"{normalize_path(logical)!r} is already pinned at {current.version}; use `vc update`"
            )
        return self._publish(logical, file, version, current)

    def update(self, logical: str, file: Path, bump: Bump) -> Published:
        """Publish the next `bump` version after the pinned one."""
        current = self.manifest().get(logical)
        if not isinstance(current, Pinned):
            raise InvalidInput(
                f"{normalize_path(logical)!r} is an override ({current.location}), not a pinned version: "
                "use `vc add --version X.Y.Z` to pin it"
            )
        return self._publish(logical, file, current.version.bump(bump), current)

    def _publish(self, logical: str, file: Path, version: Version, based_on: Entry | None) -> Published:
        if not file.is_file():
            raise InvalidInput(f"{file} is not a readable file")
        sha = sha256_file(file)
        url = S3Url(self.bucket, versioned_key(logical, version))
        try:
            self.cache.source.publish(url.bucket, url.key, file, sha)
        except AlreadyExists:
            raise AlreadyExists(
                f"version {version} of {normalize_path(logical)!r} already exists at {url}: someone else "
                "published it first; nothing was overwritten. Update your manifest and try again."
            ) from None
        with self._manifest_lock():
            manifest = Manifest.load(self.manifest_path, missing_ok=True)
            if manifest.entries.get(normalize_path(logical)) != based_on:
                raise Conflict(
                    f"the manifest entry for {normalize_path(logical)!r} changed while {url} was uploaded; "
                    "the manifest was left as it is"
                )
            manifest.with_entry(logical, Pinned(version, sha)).save(self.manifest_path)
        return Published(normalize_path(logical), version, sha, url)

    @contextlib.contextmanager
    def _manifest_lock(self) -> Iterator[None]:
        # The lock lives in the cache directory (`_` cannot start a bucket name), not beside a
        # checked-in manifest.
        ident = hashlib.sha256(str(self.manifest_path.resolve()).encode()).hexdigest()[:40]
        lock_path = self.cache.root / "_manifest-locks" / f"{ident}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with filelock.FileLock(lock_path, timeout=MANIFEST_LOCK_TIMEOUT_SECONDS):
                yield
        except filelock.Timeout:
            raise Conflict(
                f"another process has held the lock on {self.manifest_path} for over "
                f"{MANIFEST_LOCK_TIMEOUT_SECONDS:g}s"
            ) from None
