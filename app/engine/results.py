"""What the engine answers: how an upload was stored, a logical object's description, pages."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class StoredAs(enum.StrEnum):
    """How a logical object is held in the bucket.

    An upload answers REFERENCE when it created the deltaspace's `reference.bin` (plus the
    zero-diff `.delta`), DELTA for a delta against an existing reference, DIRECT otherwise.
    FOREIGN marks an object with no Glider/DeltaGlider metadata (served as-is).
    """

    REFERENCE = "reference"
    DELTA = "delta"
    DIRECT = "direct"
    FOREIGN = "foreign"


class DirectReason(enum.StrEnum):
    """Why an upload was stored whole (a fixed set: it labels `dg_uploads_total`)."""

    NOT_A_CANDIDATE = "not-a-candidate"  # the name matches no delta suffix
    TOO_SMALL = "too-small"  # even the zero-diff delta is not smaller than the file
    RATIO_ABOVE_MAX = "ratio-above-max"  # the delta exceeds DG_MAX_RATIO of the file
    NO_EXACT_RECIPE = "no-exact-recipe"  # a gzip/bzip2/xz stream no recipe rebuilds exactly
    COMPRESSED_STREAM = "compressed-stream"  # gzip/bzip2/xz bytes deltaglider 6.2.0 cannot reference
    REFERENCE_UNUSABLE = "reference-unusable"  # the deltaspace's reference.bin has no dg-file-sha256
    REFERENCE_CHANGED = "reference-changed"  # the reference was replaced during the upload
    CONCURRENT_WRITERS = "concurrent-writers"  # racing uploads of the key removed both stored forms


class Form(enum.StrEnum):
    """How a delta's bytes relate to the file: VCDIFF of the file itself, or of its decompressed
    content (the value is the metadata's `dg-form`)."""

    PLAIN = "plain"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"


@dataclass(frozen=True, slots=True)
class PutResult:
    """Outcome of one upload.

    `stored_size` counts the bytes written for this file (the delta, or the whole file when
    direct); for REFERENCE it is the zero-diff delta's size and `reference_size` holds the
    reference.bin bytes (0 when no reference was created). `reason` says why a DIRECT file was
    stored whole; `form` names the container of a delta between decompressed contents.
    """

    bucket: str
    key: str
    stored_as: StoredAs
    original_size: int
    stored_size: int
    sha256: str
    stored_key: str
    reference_size: int = 0
    reason: DirectReason | None = None  # set exactly when stored_as is DIRECT
    form: Form = Form.PLAIN


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """A logical object.

    `size` is the original size, never the stored one: None in a listing when it is not known
    (a delta listed without a HEAD or a stats fact); a HEAD or GET always knows it. `etag` is
    `sha256:<hex>` when the content hash is known, else the store's ETag. In listings (no HEAD
    per object) `sha256` is None unless the listing was asked for details.
    """

    bucket: str
    key: str
    size: int | None
    stored_size: int
    sha256: str | None
    stored_as: StoredAs
    last_modified: datetime
    etag: str


@dataclass(frozen=True, slots=True)
class LogicalPage:
    """Up to `max_keys` logical objects; `next_token` is opaque, None on the last page."""

    objects: tuple[ObjectMeta, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """The stored keys actually removed (the object's representations and maybe its reference)."""

    bucket: str
    key: str
    deleted_keys: tuple[str, ...]
