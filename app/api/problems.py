"""The one table from Glider errors to HTTP, and the handlers that answer `application/problem+json`.

Every error response has the RFC 9457 shape `{type, title, status, detail, instance, request_id}`
with a stable `type` URI per error class. Lookup walks the exception's MRO, so a subclass without
its own row inherits its parent's (e.g. `EmptyFile` answers like `InvalidInput`). Unexpected
exceptions are answered by `app.api.middleware`: logged once, with a bare 500 problem.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from app import errors
from app.observability.logging import request_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:glider:problem:"
STORAGE_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class ProblemKind:
    status: int
    slug: str
    title: str

    @property
    def type_uri(self) -> str:
        return TYPE_BASE + self.slug


PROBLEMS: dict[type[errors.GliderError], ProblemKind] = {
    errors.InvalidInput: ProblemKind(400, "invalid-input", "Invalid input"),
    errors.ChecksumMismatch: ProblemKind(400, "checksum-mismatch", "Checksum mismatch"),
    errors.EmptyFile: ProblemKind(400, "empty-file", "Empty file"),
    errors.PayloadTooLarge: ProblemKind(413, "payload-too-large", "Payload too large"),
    errors.Unauthorized: ProblemKind(401, "unauthorized", "Unauthorized"),
    errors.Forbidden: ProblemKind(403, "forbidden", "Forbidden"),
    errors.NotFound: ProblemKind(404, "not-found", "Not found"),
    errors.BucketNotFound: ProblemKind(404, "bucket-not-found", "Bucket not found"),
    errors.ObjectNotFound: ProblemKind(404, "object-not-found", "Object not found"),
    errors.ReservedKey: ProblemKind(409, "reserved-key", "Reserved key"),
    errors.Conflict: ProblemKind(409, "conflict", "Conflict"),
    errors.AlreadyExists: ProblemKind(409, "already-exists", "Already exists"),
    errors.ReferenceInUse: ProblemKind(409, "reference-in-use", "Reference in use"),
    errors.IntegrityError: ProblemKind(502, "integrity-error", "Stored data failed verification"),
    errors.AccessDenied: ProblemKind(502, "storage-access-denied", "Object store refused access"),
    errors.CodecError: ProblemKind(500, "codec-error", "Delta codec failed"),
    errors.StorageUnavailable: ProblemKind(503, "storage-unavailable", "Object store unavailable"),
    errors.CoordinationUnavailable: ProblemKind(
        503, "coordination-unavailable", "Coordination backend unavailable"
    ),
    errors.ComputationPending: ProblemKind(503, "computation-pending", "Computation in progress"),
    errors.GliderError: ProblemKind(500, "internal-error", "Internal error"),
}
VALIDATION = ProblemKind(422, "validation-error", "Request validation failed")
INTERNAL = ProblemKind(500, "internal-error", "Internal error")


def kind_for(err: errors.GliderError) -> ProblemKind:
    """The row for `err`'s most specific class in PROBLEMS (GliderError's row at worst)."""
    for cls in type(err).__mro__:
        kind = PROBLEMS.get(cls)
        if kind is not None:
            return kind
    return INTERNAL


def problem_body(kind: ProblemKind, detail: str, instance: str) -> dict[str, object]:
    body: dict[str, object] = {
        "type": kind.type_uri,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        "instance": instance,
    }
    rid = request_id.get()
    if rid:
        body["request_id"] = rid
    return body


def problem_response(
    request: Request,
    kind: ProblemKind,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> JSONResponse:
    body = problem_body(kind, detail, request.url.path) | (extra or {})
    return JSONResponse(body, status_code=kind.status, headers=headers, media_type=PROBLEM_JSON)


def _headers_for(err: errors.GliderError) -> dict[str, str]:
    if isinstance(err, errors.Unauthorized):
        return {"WWW-Authenticate": 'Bearer realm="glider"'}
    if isinstance(err, errors.Forbidden):
        return {"WWW-Authenticate": 'Bearer realm="glider", error="insufficient_scope"'}
    if isinstance(err, errors.ComputationPending):
        return {"Retry-After": str(max(1, math.ceil(err.retry_after)))}
    if isinstance(err, errors.StorageUnavailable | errors.CoordinationUnavailable):
        return {"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)}
    return {}


async def _glider_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.GliderError)
    kind = kind_for(exc)
    if kind.status >= 500:
        # Known server-side failures are logged (without a traceback) so operators see them.
        log.warning("request failed: %s: %s", type(exc).__name__, exc)
    return problem_response(request, kind, str(exc) or kind.title, headers=_headers_for(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    return problem_response(
        request, VALIDATION, "the request does not match the API", extra={"errors": jsonable_encoder(details)}
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = ProblemKind(exc.status_code, f"http-{exc.status_code}", str(exc.detail))
    return problem_response(request, kind, str(exc.detail), headers=dict(exc.headers or {}))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.GliderError, _glider_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Unexpected exceptions are answered by app.api.middleware (inside Starlette's
    # ServerErrorMiddleware, which would log them a second time and re-raise).
