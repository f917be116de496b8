"""Wire schemas of the HTTP API (pydantic): what clients send and receive, nothing more."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True)


class UploadResponse(_Wire):
    bucket: str
    key: str
    stored_as: Literal["reference", "delta", "direct"] = Field(
        description="`reference`: this upload created the deltaspace's reference.bin; `delta`: stored "
        "as a delta against it; `direct`: stored whole"
    )
    original_size: int = Field(description="Bytes received")
    stored_size: int = Field(
        description="Bytes written for this object (the delta, or the whole file when direct)"
    )
    reference_size: int = Field(0, description="Bytes of a reference.bin created by this upload, else 0")
    sha256: str = Field(description="SHA-256 of the bytes received, lower-case hex")
    reason: (
        Literal[
            "not-a-candidate",
            "too-small",
            "ratio-above-max",
            "no-exact-recipe",
            "compressed-stream",
            "reference-unusable",
            "reference-changed",
        ]
        | None
    ) = Field(
        None,
        description="Why a `direct` file was stored whole (null otherwise): `not-a-candidate` (no delta "
        "suffix), `too-small`, `ratio-above-max` (delta over DG_MAX_RATIO), `no-exact-recipe` "
        "(a gzip, bzip2 or xz stream no recipe rebuilds exactly), `compressed-stream` (gzip/bzip2/xz "
        "bytes deltaglider 6.2.0 could not use as a reference), `reference-unusable`, `reference-changed`",
    )
    form: Literal["plain", "gzip", "bzip2", "xz"] = Field(
        "plain",
        description="`gzip`, `bzip2`, `xz`: the delta is between the decompressed contents of that "
        "format (Glider-only forms)",
    )


class CacheInfo(_Wire):
    result: Literal["hit", "miss", "stale", "refresh", "bypass"]
    computed_at: datetime
    age_seconds: float


class StatsResponse(_Wire):
    bucket: str
    mode: Literal["quick", "sampled", "detailed"]
    object_count: int
    total_size: int = Field(description="Logical (original) bytes")
    compressed_size: int = Field(description="Bytes actually stored")
    space_saved: int = Field(description="total_size - compressed_size, never below 0")
    average_compression_ratio: float = Field(
        description=(
            "The savings fraction, space_saved / total_size, in [0, 1] (0.9 = stored in a tenth of "
            "the original bytes); the name is DeltaGlider's"
        )
    )
    delta_objects: int
    direct_objects: int
    exact: bool = Field(description="False when some figures are estimated (quick / sampled modes)")
    cache: CacheInfo


class ObjectInfo(_Wire):
    key: str
    size: int | None = Field(
        description="Original (logical) size in bytes; in listings null when not known "
        "(a delta whose size no HEAD or stats computation has recorded yet), never the stored size"
    )
    stored_size: int
    sha256: str | None
    stored_as: Literal["reference", "delta", "direct", "foreign"]
    last_modified: datetime
    etag: str


class ObjectListResponse(_Wire):
    bucket: str
    prefix: str
    objects: list[ObjectInfo]
    next_continuation_token: str | None


class DeleteResponse(_Wire):
    bucket: str
    key: str
    deleted_keys: list[str]


class ClearCacheResponse(_Wire):
    bytes_freed: int
    entries_freed: int


class HealthResponse(_Wire):
    status: Literal["ok"] = "ok"


class ReadinessCheck(_Wire):
    name: str
    ok: bool
    detail: str


class ReadinessResponse(_Wire):
    ready: bool
    checks: list[ReadinessCheck]


class ValidationIssue(_Wire):
    loc: list[str | int]
    msg: str
    type: str


class Problem(_Wire):
    """RFC 9457 problem details; `type` is stable per error class (`urn:glider:problem:<slug>`)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ValidationIssue] | None = Field(None, description="Only on 422: what did not validate")


PROBLEM_CONTENT = "application/problem+json"


# Python 3.13 renamed these reason phrases (RFC 9110); fixed here so the committed OpenAPI
# document is the same whichever interpreter generates it.
_STABLE_PHRASES = {
    413: "Request Entity Too Large",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` entries documenting problem+json answers for `statuses`."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "model": Problem,
            "description": _STABLE_PHRASES.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_CONTENT: {"schema": schema}},
        }
        for status in statuses
    }
