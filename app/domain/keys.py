"""Bucket and key rules, deltaspaces, and the names the wire format reserves.

A deltaspace is everything before a key's last `/` (empty at the bucket root). Its reference is
`<prefix>/reference.bin`; a delta of logical key `K` is stored as `K.delta`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.errors import InvalidInput, ReservedKey

REFERENCE_NAME = "reference.bin"
DELTA_SUFFIX = ".delta"
INTERNAL_PREFIX = ".deltaglider/"
_INTERNAL_SEGMENT = INTERNAL_PREFIX.rstrip("/")
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255  # per `/` segment: SeaweedFS's and MinIO's file-name limit

# Compound suffixes are tried first so `x.tar.gz` is not mistaken for a plain `.gz`.
DEFAULT_DELTA_EXTENSIONS: tuple[str, ...] = (
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".zip",
    ".tar",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".7z",
    ".rar",
    ".dmg",
    ".iso",
    ".pkg",
    ".deb",
    ".rpm",
    # zip-family packages: a later version deltas like the same bytes under a `.zip` key
    ".whl",
    ".egg",
    ".nupkg",
    ".aar",
    ".apk",
    ".aab",
    ".ipa",
    ".vsix",
    ".xpi",
    ".jar",
    ".war",
    ".ear",
)


def delta_extensions(replace: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    """The candidate suffixes: `replace` (or the built-in list when empty) plus `extra`.

    Lower-cased, a missing leading dot added, duplicates dropped, order kept (matching sorts
    compound suffixes first anyway).
    """
    chosen: list[str] = []
    for raw in (*(replace or DEFAULT_DELTA_EXTENSIONS), *extra):
        ext = raw.strip().lower()
        ext = ext if ext.startswith(".") else f".{ext}"
        if ext != "." and ext not in chosen:
            chosen.append(ext)
    return tuple(chosen)


# S3's rules for new buckets: 3-63 chars, lower-case letters, digits, dots and hyphens,
# starting and ending with a letter or digit, no `..`, not an IP address.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


@dataclass(frozen=True, slots=True)
class DeltaSpace:
    """A bucket prefix whose delta-eligible files share one reference."""

    bucket: str
    prefix: str

    @property
    def reference_key(self) -> str:
        return f"{self.prefix}/{REFERENCE_NAME}" if self.prefix else REFERENCE_NAME

    @property
    def cache_id(self) -> str:
        """A stable identifier for local caches: bucket and prefix, unambiguous."""
        return f"{self.bucket}/{self.prefix}"


def validate_bucket(name: str) -> str:
    """Return `name` if it is a valid S3 bucket name, else raise InvalidInput saying why."""
    if not _BUCKET_RE.match(name):
        raise InvalidInput(
            f"invalid bucket name {name!r}: use 3-63 lower-case letters, digits, '.' or '-', "
            "starting and ending with a letter or digit"
        )
    if ".." in name or _IP_RE.match(name):
        raise InvalidInput(f"invalid bucket name {name!r}: no '..' and not an IP address")
    return name


def validate_key(key: str) -> str:
    """Return `key` if it is a safe object key for a logical file, else raise.

    Raises InvalidInput for empty, oversized or path-traversing keys and for NUL, line breaks,
    other control characters and backslashes (see below), and
    ReservedKey for names the wire format owns: `reference.bin` and `.deltaglider` as *any*
    segment (as a middle segment they would turn into directories on SeaweedFS, after which
    the deltaspace's reference or Glider's own documents can no longer be written), and the
    `.delta` suffix.
    """
    if not key:
        raise InvalidInput("invalid key: empty")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. undecodable bytes from a command line
        raise InvalidInput("invalid key: not valid UTF-8") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidInput(f"invalid key: longer than {MAX_KEY_BYTES} bytes")
    if "\x00" in key:
        raise InvalidInput("invalid key: contains a NUL character")
    if key.startswith("/") or key.endswith("/"):
        raise InvalidInput(f"invalid key {key!r}: must not start or end with '/'")
    segments = key.split("/")
    if any(seg in ("", ".", "..") for seg in segments):
        raise InvalidInput(f"invalid key {key!r}: empty, '.' or '..' path segment")
    if any(ch in key for ch in "\r\n"):
        raise InvalidInput("invalid key: contains a line break")
    control = next((ch for ch in key if ch < " " or ch == "\x7f"), None)
    if control is not None:  # the S3 client refuses them in paths (object_store's Path rules)
        raise InvalidInput(f"invalid key: contains the control character U+{ord(control):04X}")
    if "\\" in key:  # SeaweedFS reads `a\b` as `a/b`: the key would silently alias another one
        raise InvalidInput(f"invalid key {key!r}: contains a backslash")
    if REFERENCE_NAME in segments:
        raise ReservedKey(
            f"key {key!r} is reserved: '{REFERENCE_NAME}' holds a deltaspace's base and cannot be "
            "any part of a key"
        )
    if key.endswith(DELTA_SUFFIX):
        raise ReservedKey(f"key {key!r} is reserved: the '{DELTA_SUFFIX}' suffix marks stored deltas")
    if _INTERNAL_SEGMENT in segments:
        raise ReservedKey(
            f"key {key!r} is reserved: '{_INTERNAL_SEGMENT}' holds Glider's own data and cannot be "
            "any part of a key"
        )
    return key


def validate_stored_length(key: str, *, delta_candidate: bool) -> str:
    """Return `key` if every name an upload may store it under fits the store, else InvalidInput.

    A delta candidate is stored as `<key>.delta` and may create `<prefix>/reference.bin`. S3
    allows 1,024-byte keys; stores built on file systems (SeaweedFS, MinIO) also cap each `/`
    segment at 255 bytes. Checking up front answers a clear 400 instead of a storage error
    half-way through an upload.
    """
    names = [key]
    if delta_candidate:
        names += [delta_key_for(key), deltaspace_of("", key).reference_key]
    for name in names:
        size = len(name.encode("utf-8"))
        longest = max(len(seg.encode("utf-8")) for seg in name.split("/"))
        if size > MAX_KEY_BYTES or longest > MAX_SEGMENT_BYTES:
            stored = "" if name == key else f"; it would be stored as {name.rpartition('/')[2]!r}"
            raise InvalidInput(
                f"invalid key: too long{stored}, a {size}-byte name with a {longest}-byte segment; "
                f"stores allow {MAX_KEY_BYTES} bytes in all and {MAX_SEGMENT_BYTES} per segment"
            )
    return key


def deltaspace_of(bucket: str, key: str) -> DeltaSpace:
    prefix, _, _ = key.rpartition("/")
    return DeltaSpace(bucket, prefix)


def basename(key: str) -> str:
    return key.rpartition("/")[2]


def delta_key_for(key: str) -> str:
    return key + DELTA_SUFFIX


def is_internal(key: str) -> bool:
    """True for Glider/DeltaGlider bookkeeping objects under `.deltaglider/`."""
    return key.startswith(INTERNAL_PREFIX)


def is_reference(key: str) -> bool:
    return key == REFERENCE_NAME or key.endswith("/" + REFERENCE_NAME)


def is_delta(key: str) -> bool:
    return key.endswith(DELTA_SUFFIX)


def logical_key(stored_key: str) -> str | None:
    """Map a stored key to the logical key a user sees; None for hidden objects."""
    if is_internal(stored_key) or is_reference(stored_key):
        return None
    return stored_key.removesuffix(DELTA_SUFFIX)


def is_delta_candidate(name: str, extensions: tuple[str, ...] = DEFAULT_DELTA_EXTENSIONS) -> bool:
    lowered = name.lower()
    return any(lowered.endswith(ext) for ext in extensions)
