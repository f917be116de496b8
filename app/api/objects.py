"""Objects: verified download, HEAD, logical listing and delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from app.api.auth import Scope, require
from app.api.conditional import none_match, strong_etag
from app.api.context import run_blocking
from app.api.deps import ObjectServiceDep
from app.api.schemas import (
    DeleteResponse,
    ObjectInfo,
    ObjectListResponse,
    problem_responses,
)
from app.engine.results import ObjectMeta
from app.services.objects import Download

router = APIRouter(tags=["objects"])

# No pattern: `validate_bucket` below is the one rule (400 with its precise message).
BucketPath = Annotated[str, Path(description="Bucket name")]
KeyPath = Annotated[str, Path(min_length=1, max_length=1024, description="Object key (may contain '/')")]
_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


def _headers(meta: ObjectMeta) -> dict[str, str]:
    headers = {
        "ETag": strong_etag(meta.etag),
        "Last-Modified": format_datetime(meta.last_modified.astimezone(UTC), usegmt=True),
        "X-Glider-Stored-As": meta.stored_as.value,
    }
    if meta.size is not None:  # HEAD and GET always know it; only listing entries may not
        headers["Content-Length"] = str(meta.size)
    if meta.sha256:
        headers["X-Content-SHA256"] = meta.sha256
    return headers


async def _blocks(request: Request, download: Download) -> AsyncIterator[bytes]:
    """The download's bytes, each block read on the bounded worker pool; the handle is closed
    however the stream ends (the response's background task closes it too, should the
    generator never be resumed after a disconnect)."""
    try:
        while block := await run_blocking(request, download.read):
            yield block
    finally:
        download.close()


def _info(meta: ObjectMeta) -> ObjectInfo:
    return ObjectInfo.model_validate(
        {
            "key": meta.key,
            "size": meta.size,
            "stored_size": meta.stored_size,
            "sha256": meta.sha256,
            "stored_as": meta.stored_as.value,
            "last_modified": meta.last_modified,
            "etag": meta.etag,
        }
    )


@router.get(
    "/buckets/{bucket}/objects",
    operation_id="listObjects",
    summary="List logical objects (deltas shown under their original names), paginated",
    response_model=ObjectListResponse,
    dependencies=[require(Scope.READ)],
    responses=problem_responses(400, 401, 403, 404, 422, 502, 503),
)
async def list_objects(
    request: Request,
    *,
    objects: ObjectServiceDep,
    bucket: BucketPath,
    prefix: Annotated[str, Query(max_length=1024)] = "",
    continuation_token: Annotated[str | None, Query(max_length=4096)] = None,
    max_keys: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> ObjectListResponse:
    page = await run_blocking(request, objects.list, bucket, prefix, continuation_token, max_keys)
    return ObjectListResponse(
        bucket=bucket,
        prefix=prefix,
        objects=[_info(meta) for meta in page.objects],
        next_continuation_token=page.next_token,
    )


@router.get(
    "/buckets/{bucket}/objects/{key:path}",
    operation_id="getObject",
    summary="Download an object; its bytes are rebuilt and SHA-256 verified before the first byte",
    response_class=StreamingResponse,
    dependencies=[require(Scope.READ)],
    responses={
        200: {"content": _BINARY, "description": "The object's bytes"},
        304: {"description": "Not modified"},
        **problem_responses(400, 401, 403, 404, 409, 422, 502, 503),
    },
)
async def get_object(
    request: Request,
    objects: ObjectServiceDep,
    bucket: BucketPath,
    key: KeyPath,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    if if_none_match:
        meta = await run_blocking(request, objects.head, bucket, key)
        if none_match(if_none_match, strong_etag(meta.etag)):
            return Response(status_code=304, headers={"ETag": strong_etag(meta.etag)})
    download = await run_blocking(request, objects.download, bucket, key)
    return StreamingResponse(
        _blocks(request, download),
        media_type="application/octet-stream",
        headers=_headers(download.meta),
        background=BackgroundTask(download.close),
    )


@router.head(
    "/buckets/{bucket}/objects/{key:path}",
    operation_id="headObject",
    summary="An object's size, ETag and checksum without its bytes",
    dependencies=[require(Scope.READ)],
    responses=problem_responses(400, 401, 403, 404, 409, 422, 502, 503),
)
async def head_object(
    request: Request, objects: ObjectServiceDep, bucket: BucketPath, key: KeyPath
) -> Response:
    meta = await run_blocking(request, objects.head, bucket, key)
    return Response(status_code=200, headers=_headers(meta), media_type="application/octet-stream")


@router.delete(
    "/buckets/{bucket}/objects/{key:path}",
    operation_id="deleteObject",
    summary="Delete an object (and its delta); a reference.bin goes when nothing needs it",
    response_model=DeleteResponse,
    dependencies=[require(Scope.ADMIN)],
    responses=problem_responses(400, 401, 403, 404, 409, 422, 502, 503),
)
async def delete_object(
    request: Request, objects: ObjectServiceDep, bucket: BucketPath, key: KeyPath
) -> DeleteResponse:
    result = await run_blocking(request, objects.delete, bucket, key)
    return DeleteResponse(bucket=result.bucket, key=result.key, deleted_keys=list(result.deleted_keys))
