"""The asset cache: ask for `s3://BUCKET/KEY`, get a local path to verified bytes.

Layout under `root` (one directory per bucket; the key's SHA-256 names its entry, so keys that
are prefixes of each other, like `a` and `a/b`, never collide on disk)::

    <root>/<bucket>/<digest>/<basename>   the bytes (the returned path keeps the file's name)
    <root>/<bucket>/<digest>.json         the sidecar: remote validator, sha256, size, times
    <root>/<bucket>/<digest>.lock         the inter-process lock for this asset

Guarantees:
- A returned path always names a complete file: new bytes are written to a temporary file in the
  same directory and moved into place with `os.replace`. Replacing a file leaves open readers of
  the old one unaffected.
- Every access to one asset holds its file lock (`filelock`), so concurrent processes and threads
  fetching the same asset download it once; the others wait, then find it fresh.
- When bytes are replaced, the old sidecar is removed first and the new one written last, so a
  crash in between leaves no sidecar (the next access fetches again), never a sidecar describing
  other bytes.
- Freshness follows `revalidation.decide`; a revalidation is one conditional request made by the
  source; the local file is never hashed to decide anything.
- When the source is unreachable (StorageUnavailable) a local copy is served, with a warning,
  while it is within max-stale; otherwise the error propagates.
- With `expected_sha256` (a manifest pin) the bytes are checked before they are installed or
  served: a mismatch raises IntegrityError and the bytes are not installed.

Thread-safe and multi-process-safe. Times come from the injected `now` (UTC).
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import filelock

from app.assets import record
from app.assets.location import S3Url
from app.assets.record import CacheRecord
from app.assets.revalidation import Action, Freshness, RevalidationPolicy, decide, stale_allowed
from app.assets.source import AssetSource, RemoteVersion
from app.domain import files
from app.domain.keys import basename, validate_bucket, validate_key
from app.errors import ComputationPending, IntegrityError, StorageUnavailable

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT_SECONDS = 900.0


class Outcome(enum.StrEnum):
    HIT = "hit"  # fresh local copy, no request
    DOWNLOADED = "downloaded"  # no local copy: fetched
    REVALIDATED = "revalidated"  # one conditional request: unchanged
    REPLACED = "replaced"  # one conditional request: changed, new bytes installed
    STALE = "stale"  # remote unreachable: local copy within max-stale served


@dataclass(frozen=True, slots=True)
class CachedAsset:
    path: Path
    bucket: str
    key: str
    sha256: str
    size: int
    fetched_at: datetime
    validated_at: datetime
    outcome: Outcome


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AssetCache:
    def __init__(
        self,
        root: Path,
        source: AssetSource,
        policy: RevalidationPolicy,
        *,
        lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.root = root
        self.source = source
        self.policy = policy
        self._lock_timeout = lock_timeout_seconds
        self._now = now

    def path(
        self, location: str | Path, *, freshness: Freshness | None = None, expected_sha256: str | None = None
    ) -> Path:
        """The local path for `location`: an `s3://` URL is fetched as needed; anything else is
        a local path and comes back unchanged (so `cache.path(cache.path(x))` is safe)."""
        if isinstance(location, Path) or not S3Url.matches(location):
            return Path(location)
        url = S3Url.parse(location)
        return self.get(url.bucket, url.key, freshness=freshness, expected_sha256=expected_sha256).path

    def entry_paths(self, bucket: str, key: str) -> tuple[Path, Path, Path]:
        """(data file, sidecar, lock file) for `bucket/key`."""
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
        base = self.root / bucket
        return base / digest / basename(key), base / f"{digest}.json", base / f"{digest}.lock"

    def get(
        self,
        bucket: str,
        key: str,
        *,
        freshness: Freshness | None = None,
        expected_sha256: str | None = None,
    ) -> CachedAsset:
        """Ensure a usable local copy of `bucket/key` and describe it.

        `freshness` overrides the policy's for this call. Raises ObjectNotFound/BucketNotFound,
        IntegrityError, StorageUnavailable (unreachable and no copy within max-stale),
        ComputationPending (another holder kept the lock past the lock timeout).
        """
        validate_bucket(bucket)
        validate_key(key)
        data, sidecar, lock_path = self.entry_paths(bucket, key)
        policy = self.policy if freshness is None else self.policy.with_freshness(freshness)
        request = _Request(bucket, key, policy, expected_sha256, data, sidecar)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with filelock.FileLock(lock_path, timeout=self._lock_timeout):
                return self._get_locked(request)
        except filelock.Timeout:
            raise ComputationPending(
                f"another process has been fetching s3://{bucket}/{key} for over {self._lock_timeout:g}s",
                retry_after=30.0,
            ) from None

    def _get_locked(self, req: _Request) -> CachedAsset:
        held = record.load(req.sidecar, req.bucket, req.key) if req.data.is_file() else None
        if held is None:
            return self._download(req)
        now = self._now()
        action = decide(req.policy, req.bucket, held.validated_at, now)
        if req.expected is not None and held.version.sha256 != req.expected:
            action = Action.REVALIDATE  # not the pinned bytes: ask the remote even if fresh
        if action is Action.SERVE:
            return _describe(req.data, held, Outcome.HIT)
        return self._revalidate(req, held, now)

    def _download(self, req: _Request) -> CachedAsset:
        with files.temp_beside(req.data) as tmp:
            version = self.source.fetch(req.bucket, req.key, tmp)
            fetched = self._install(req, tmp, version)
        log.info("asset downloaded", extra={"bucket": req.bucket, "bytes": version.size})
        return _describe(req.data, fetched, Outcome.DOWNLOADED)

    def _revalidate(self, req: _Request, held: CacheRecord, now: datetime) -> CachedAsset:
        with files.temp_beside(req.data) as tmp:
            try:
                version = self.source.refresh(req.bucket, req.key, held.version, tmp)
            except StorageUnavailable as err:
                return _stale_or_raise(req, held, now, err)
            if version is not None:
                replaced = self._install(req, tmp, version)
                log.info("asset replaced by a newer remote version", extra={"bucket": req.bucket})
                return _describe(req.data, replaced, Outcome.REPLACED)
        _check_pin(req, held.version.sha256)
        confirmed = held.confirmed(self._now())
        record.save(req.sidecar, confirmed)
        return _describe(req.data, confirmed, Outcome.REVALIDATED)

    def _install(self, req: _Request, tmp: Path, version: RemoteVersion) -> CacheRecord:
        _check_pin(req, version.sha256)
        now = self._now()
        fresh = CacheRecord(req.bucket, req.key, version, fetched_at=now, validated_at=now)
        req.sidecar.unlink(missing_ok=True)
        files.commit(tmp, req.data)
        record.save(req.sidecar, fresh)
        return fresh


@dataclass(frozen=True, slots=True)
class _Request:
    """One `get` call's target and options."""

    bucket: str
    key: str
    policy: RevalidationPolicy
    expected: str | None
    data: Path
    sidecar: Path


def _stale_or_raise(req: _Request, held: CacheRecord, now: datetime, err: StorageUnavailable) -> CachedAsset:
    age = (now - held.validated_at).total_seconds()
    pinned_ok = req.expected is None or held.version.sha256 == req.expected
    if not pinned_ok or not stale_allowed(req.policy, held.validated_at, now):
        why = "is not the pinned version" if not pinned_ok else f"is {age:.0f}s old, past max-stale"
        raise StorageUnavailable(f"{err}; the local copy of s3://{req.bucket}/{req.key} {why}") from err
    log.warning(
        "remote unreachable, serving a local copy last validated %.0fs ago: %s",
        age,
        err,
        extra={"bucket": req.bucket},
    )
    return _describe(req.data, held, Outcome.STALE)


def _check_pin(req: _Request, actual: str) -> None:
    if req.expected is not None and actual != req.expected:
        raise IntegrityError(
            f"s3://{req.bucket}/{req.key} has SHA-256 {actual}, but the manifest pins {req.expected}: refused"
        )


def _describe(data: Path, held: CacheRecord, outcome: Outcome) -> CachedAsset:
    return CachedAsset(
        path=data,
        bucket=held.bucket,
        key=held.key,
        sha256=held.version.sha256,
        size=held.version.size,
        fetched_at=held.fetched_at,
        validated_at=held.validated_at,
        outcome=outcome,
    )
