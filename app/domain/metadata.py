"""Wire-format metadata: reading every historical spelling, writing the canonical `dg-*` one.

Reading accepts, first non-empty wins: `dg-<dashed>`, `dg_<underscored>`, `<underscored>`,
`<dashed>`. The Rust proxy writes `dg-ref-path` (relative `reference.bin`) instead of
`dg-ref-key`; it resolves against the delta's own deltaspace.

Values S3 cannot carry. User metadata travels in HTTP headers: printable ASCII only, and
surrounding blanks are trimmed, so a key such as `bad/✓-é.txt` (its name and deltaspace go into
`dg-original-name`, `dg-ref-key`, ...) made botocore refuse the whole upload. Such a value is
written as one RFC 2047 encoded word, `=?UTF-8?B?<base64>?=`: the form AWS S3 itself documents
for non-ASCII metadata (it decodes it on PUT and answers encoded words on HEAD), and readable
by any client. DeltaGlider 6.2.0 and the Rust proxy send values raw (so they cannot store such
keys at all) and read them verbatim. Reading decodes encoded words (B or Q, any charset Python
knows, several words separated by blanks as AWS may answer); anything else, or a word that does
not decode, is taken verbatim. An ASCII value that itself starts with `=?` is encoded too, so
reading is unambiguous for what Glider writes.
"""

from __future__ import annotations

import base64
import binascii
import enum
import quopri
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from app.errors import IntegrityError

CODEC_XDELTA3 = "xdelta3"
CODEC_ZSTD = "zstd-patch"
ZERO_DIFF_NOTE = "zero-diff (reference identical)"


class StoredKind(enum.Enum):
    REFERENCE = "reference"
    DELTA = "delta"
    DIRECT = "direct"
    FOREIGN = "foreign"  # no Glider/DeltaGlider metadata: served as-is


_ENCODED_WORD = re.compile(r"=\?([A-Za-z0-9_.:-]+)\?([BbQq])\?([^?\s]*)\?=")


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable() and value == value.strip() and not value.startswith("=?")


def encode_value(value: str) -> str:
    """`value` as S3 user metadata can carry it: unchanged when it is plain printable ASCII."""
    if _header_safe(value):
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def decode_value(raw: str) -> str:
    """The value `encode_value` (or AWS S3's RFC 2047 answer) stands for; verbatim otherwise."""
    if not raw.startswith("=?"):
        return raw
    out: list[str] = []
    for word in raw.split():
        match = _ENCODED_WORD.fullmatch(word)
        if match is None:
            return raw
        charset, encoding, text = match.groups()
        try:
            if encoding in "Bb":
                data = base64.b64decode(text, validate=True)
            else:
                data = quopri.decodestring(text.encode("ascii"), header=True)
            out.append(data.decode(charset))
        except (binascii.Error, LookupError, UnicodeDecodeError, ValueError):
            return raw
    return "".join(out)


MAX_METADATA_BYTES = 2048  # AWS S3's limit on user metadata: names plus values, UTF-8


def metadata_bytes(meta: Mapping[str, str]) -> int:
    """The size S3 counts against MAX_METADATA_BYTES."""
    return sum(len(name.encode("utf-8")) + len(value.encode("utf-8")) for name, value in meta.items())


def encode_all(meta: Mapping[str, str]) -> dict[str, str]:
    """Every value of a metadata mapping passed through `encode_value`."""
    return {name: encode_value(value) for name, value in meta.items()}


def _spellings(field: str) -> tuple[str, ...]:
    dashed = field.replace("_", "-")
    return (f"dg-{dashed}", f"dg_{field}", field, dashed)


def read_field(meta: Mapping[str, str], field: str) -> str | None:
    """Return the first non-empty value of `field` under any known spelling, decoded."""
    for name in _spellings(field):
        value = meta.get(name)
        if value:
            return decode_value(value)
    return None


def classify(key: str, meta: Mapping[str, str]) -> StoredKind:
    """Decide what a stored object is from its key and metadata (pure)."""
    if read_field(meta, "file_sha256") is None:
        return StoredKind.FOREIGN
    if read_field(meta, "compression") == "none":
        return StoredKind.DIRECT
    if key.endswith(".delta"):
        return StoredKind.DELTA
    if key == "reference.bin" or key.endswith("/reference.bin"):
        return StoredKind.REFERENCE
    return StoredKind.DIRECT


def utc_timestamp(now: datetime | None = None) -> str:
    """UTC ISO-8601 with a trailing Z, as DeltaGlider writes it."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def required_field(meta: Mapping[str, str], field: str, what: str) -> str:
    """`field`'s value; IntegrityError naming `what` (e.g. "object 'k'") when it is absent."""
    value = read_field(meta, field)
    if value is None:
        raise IntegrityError(f"{what} lacks required metadata field {field!r}")
    return value


def _require(meta: Mapping[str, str], field: str, key: str) -> str:
    return required_field(meta, field, f"object {key!r}")


def _int_field(meta: Mapping[str, str], field: str, key: str) -> int:
    raw = _require(meta, field, key)
    try:
        return int(raw)
    except ValueError:
        raise IntegrityError(f"object {key!r} has a non-integer {field!r}: {raw!r}") from None


@dataclass(frozen=True, slots=True)
class DeltaInfo:
    """What a reader needs from a `.delta` object's metadata."""

    file_sha256: str
    file_size: int
    ref_key: str
    ref_sha256: str
    original_name: str | None
    codec: str

    @classmethod
    def parse(cls, key: str, meta: Mapping[str, str]) -> DeltaInfo:
        ref_key = read_field(meta, "ref_key")
        if ref_key is None:
            rel = read_field(meta, "ref_path")
            if rel is None:
                raise IntegrityError(f"delta {key!r} names no reference (dg-ref-key)")
            prefix = key.rpartition("/")[0]
            ref_key = f"{prefix}/{rel}" if prefix else rel
        return cls(
            file_sha256=_require(meta, "file_sha256", key).lower(),
            file_size=_int_field(meta, "file_size", key),
            ref_key=ref_key,
            ref_sha256=_require(meta, "ref_sha256", key).lower(),
            original_name=read_field(meta, "original_name"),
            codec=read_field(meta, "codec") or CODEC_XDELTA3,
        )


def original_size(meta: Mapping[str, str]) -> int | None:
    """The original (logical) size recorded in metadata, or None when absent or malformed."""
    raw = read_field(meta, "file_size")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def reference_metadata(
    tool: str, source_name: str, sha256: str, now: datetime | None = None
) -> dict[str, str]:
    return encode_all(
        {
            "dg-tool": tool,
            "dg-source-name": source_name,
            "dg-file-sha256": sha256,
            "dg-created-at": utc_timestamp(now),
            "dg-note": "reference",
        }
    )


def delta_metadata(
    *,
    tool: str,
    original_name: str,
    sha256: str,
    size: int,
    ref_key: str,
    ref_sha256: str,
    delta_size: int,
    codec: str,
    command: str,
    zero_diff: bool,
    now: datetime | None = None,
) -> dict[str, str]:
    meta = {
        "dg-tool": tool,
        "dg-original-name": original_name,
        "dg-file-sha256": sha256,
        "dg-file-size": str(size),
        "dg-created-at": utc_timestamp(now),
        "dg-ref-key": ref_key,
        "dg-ref-sha256": ref_sha256,
        "dg-delta-size": str(delta_size),
        "dg-delta-cmd": command,
    }
    if zero_diff:
        meta["dg-note"] = ZERO_DIFF_NOTE
    if codec != CODEC_XDELTA3:
        # Readers that predate the opt-in codec see an unknown field and fail the decode
        # loudly (VCDIFF magic mismatch) rather than returning wrong bytes.
        meta["dg-codec"] = codec
    encoded = encode_all(meta)
    if metadata_bytes(encoded) > MAX_METADATA_BYTES:
        # A long key's name appears twice in the informational command line; AWS refuses user
        # metadata over 2 KB, and no reader needs the command.
        del encoded["dg-delta-cmd"]
    return encoded


def direct_metadata(
    tool: str, original_name: str, sha256: str, size: int, now: datetime | None = None
) -> dict[str, str]:
    return encode_all(
        {
            "dg-tool": tool,
            "dg-original-name": original_name,
            "dg-file-sha256": sha256,
            "dg-file-size": str(size),
            "dg-created-at": utc_timestamp(now),
            "dg-compression": "none",
        }
    )
