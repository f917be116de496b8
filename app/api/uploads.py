"""POST /upload: build agents stream a file in; the answer says how it was stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.requests import ClientDisconnect

from app.api.auth import Scope, require
from app.api.context import run_blocking
from app.api.deps import UploadServiceDep
from app.api.multipart import file_field_chunks
from app.api.schemas import UploadResponse, problem_responses
from app.errors import InvalidInput

router = APIRouter(tags=["uploads"])

WRITE_BLOCK = 1024 * 1024  # bytes handed to the worker thread per write (bounds memory per upload)
_MULTIPART_SLACK = 64 * 1024  # part headers and boundaries around the file's bytes

_BODY_DOC = {
    "required": True,
    "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
    },
}


async def _blocks(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Regroup the stream into ~WRITE_BLOCK pieces so each thread hop moves a useful amount."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= WRITE_BLOCK:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


async def _raw_stream(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect as err:
        raise InvalidInput("the client disconnected before the body was complete") from err


def _least_file_size(request: Request, multipart: bool) -> int | None:
    """A lower bound of the file's size from Content-Length (None when the body is chunked)."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return None
    return max(0, int(declared) - (_MULTIPART_SLACK if multipart else 0))


@router.post(
    "/upload",
    operation_id="uploadObject",
    summary="Store a file (raw body or multipart `file` field) as a delta when it pays",
    status_code=201,
    response_model=UploadResponse,
    dependencies=[require(Scope.UPLOAD)],
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503),
    openapi_extra={"requestBody": _BODY_DOC},
)
async def upload_object(
    request: Request,
    response: Response,
    *,
    uploads: UploadServiceDep,
    bucket: Annotated[str, Query(description="Target bucket")],
    key: Annotated[str, Query(min_length=1, max_length=1024, description="Object key")],
    content_sha256: Annotated[
        str | None,
        Header(alias="X-Content-SHA256", description="Expected SHA-256 (hex) of the file; checked"),
    ] = None,
) -> UploadResponse:
    content_type = request.headers.get("content-type", "")
    multipart = content_type.lower().startswith("multipart/form-data")
    least = _least_file_size(request, multipart)
    session = await run_blocking(request, uploads.begin, bucket, key, content_sha256, least)
    with session:
        body = _raw_stream(request)
        chunks = file_field_chunks(content_type, body) if multipart else body
        async for block in _blocks(chunks):
            await run_blocking(request, session.write, block)
        result = await run_blocking(request, session.commit)
    response.headers["Location"] = f"/buckets/{result.bucket}/objects/{quote(result.key)}"
    return UploadResponse.model_validate(
        {
            "bucket": result.bucket,
            "key": result.key,
            "stored_as": result.stored_as.value,
            "original_size": result.original_size,
            "stored_size": result.stored_size,
            "reference_size": result.reference_size,
            "sha256": result.sha256,
            "reason": result.reason.value if result.reason is not None else None,
            "form": result.form.value,
        }
    )
