"""The error tree. No HTTP codes here: `app.api.problems` maps each class to a status once.

Adapters (storage, codec, caches, coordination) translate library exceptions into these, so
callers never see botocore, subprocess, cryptography or redis errors.
"""

from __future__ import annotations


class GliderError(Exception):
    """Base of every error Glider raises on purpose. `str(err)` is safe to show to a caller."""


class InvalidInput(GliderError):
    """The caller's request is malformed: bad bucket name, key, mode, range or option."""


class ChecksumMismatch(InvalidInput):
    """The bytes received do not match the checksum the caller declared."""


class PayloadTooLarge(InvalidInput):
    """A request body is over the configured size limit."""


class DecompressionBomb(PayloadTooLarge):
    """A compressed upload expands past the configured size or ratio limits."""


class EmptyFile(InvalidInput):
    """A zero-byte upload where content is required."""


class ReservedKey(GliderError):
    """The key collides with a name Glider's wire format owns (reference.bin, *.delta, .deltaglider/)."""


class NotFound(GliderError):
    """Something that must exist does not."""


class BucketNotFound(NotFound):
    """The bucket does not exist."""


class ObjectNotFound(NotFound):
    """The object does not exist."""


class Conflict(GliderError):
    """The operation contradicts the current state (e.g. write-once key exists)."""


class AlreadyExists(Conflict):
    """A conditional create (If-None-Match: *) lost: the object is already there."""


class PreconditionFailed(Conflict):
    """A conditional request other than a create (If-Match, ...) found the object changed."""


class ReferenceInUse(Conflict):
    """A reference.bin cannot be deleted while deltas still need it."""


class AccessDenied(GliderError):
    """The store refused the operation for lack of permission."""


class IntegrityError(GliderError):
    """Stored data failed verification: SHA-256 mismatch, corrupt or truncated delta."""


class CodecError(GliderError):
    """The delta codec failed or timed out."""


class RecompressorUnavailable(GliderError):
    """The recompressor a gzip recipe needs (node's zlib, `DG_GZIP_NODE`) is missing or failed."""


class StorageUnavailable(GliderError):
    """The object store cannot be reached or answered with a server error (worth retrying later)."""


class StorageTimeout(StorageUnavailable):
    """The object store did not answer in time."""


class Throttled(StorageUnavailable):
    """The object store asked us to slow down (503 SlowDown, 429). `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CoordinationUnavailable(GliderError):
    """The shared coordination backend (Redis) cannot be reached or failed.

    `reason` is one of a fixed set ("connection", "timeout", "error") usable as a metric label.
    """

    def __init__(self, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.reason = reason


class ComputationPending(GliderError):
    """Another worker holds the lease and no value (fresh or stale) is available yet.

    `retry_after` is a hint in seconds for the caller.
    """

    def __init__(self, message: str, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(GliderError):
    """No credential, or a credential that matches nothing."""


class Forbidden(GliderError):
    """A valid credential that lacks the scope the operation needs."""
