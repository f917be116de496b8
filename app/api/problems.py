"""The one table from Glider errors to HTTP, and the handlers that answer `application/problem+json`.

Every error response has the RFC 9457 shape `{type, title, status, detail, instance, request_id}`
with a stable `type` URI per error class. Lookup walks the exception's MRO, so a subclass without
its own row inherits its parent's (e.g. `EmptyFile` answers like `InvalidInput`). Unexpected
exceptions are answered by `app.api.middleware`: logged once, with a bare 500 problem.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from app import errors
from app.observability.limited_log import LimitedLog
from app.observability.logging import request_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:glider:problem:"
STORAGE_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """One row of the table. `public`, when set, is the detail every error of the kind answers
    with instead of its own message (server-side failures: their messages name paths, endpoints
    and library output, which go to the log with the request id instead)."""

    status: int
    slug: str
    title: str
    public: str | None = None

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
    # Own words kept: they say which object or reference failed (a codec's output is cut below).
    errors.IntegrityError: ProblemKind(502, "integrity-error", "Stored data failed verification"),
    errors.AccessDenied: ProblemKind(
        502, "storage-access-denied", "Object store refused access",
        "the object store refused Glider's credentials for this operation",
    ),
    errors.CodecError: ProblemKind(
        500, "codec-error", "Delta codec failed",
        "the delta codec failed on this object; the server log has the details",
    ),
    errors.RecompressorUnavailable: ProblemKind(
        503, "recompressor-unavailable", "Recompressor unavailable",
        "this object is rebuilt with node's zlib, which this server cannot run (DG_GZIP_NODE); "
        "nothing was served",
    ),
    errors.StorageUnavailable: ProblemKind(
        503, "storage-unavailable", "Object store unavailable",
        "the object store is unreachable or failing; retry later",
    ),
    errors.CoordinationUnavailable: ProblemKind(
        503, "coordination-unavailable", "Coordination backend unavailable",
        "the coordination backend is unreachable; retry later",
    ),
    errors.ComputationPending: ProblemKind(
        503, "computation-pending", "Computation in progress",
        "another worker is computing this answer; retry after the Retry-After delay",
    ),
    errors.GliderError: ProblemKind(
        500, "internal-error", "Internal error", "an unexpected error occurred; see the server log"
    ),
}  # fmt: skip
VALIDATION = ProblemKind(422, "validation-error", "Request validation failed")
INTERNAL = ProblemKind(500, "internal-error", "Internal error")

# Absolute http(s) URLs (object store and other endpoints) and absolute filesystem paths of two
# or more segments (s3://bucket/key and plain keys do not match: their slashes follow ':', '/' or
# a name character).
_URL = re.compile(r"\bhttps?://[^\s'\"]+", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+~-]+/)+[\w.@+~-]*")
# A tool's output quoted after our words ("... corrupt or truncated: xdelta3: nothing to output").
_TOOL_OUTPUT = re.compile(r": [\w.-]+: .*$", re.DOTALL)
_OURS = "app"


def _library_cause(err: BaseException) -> BaseException | None:
    """The third-party exception `err` was raised from (its text is that library's), if any."""
    cause = err.__cause__
    if cause is None or isinstance(cause, errors.GliderError):
        return None
    return None if type(cause).__module__.partition(".")[0] == _OURS else cause


def public_detail(err: errors.GliderError, kind: ProblemKind) -> str:
    """The detail a caller may read (pure): the kind's fixed text where there is one (failures
    whose messages are about our infrastructure); else the error's own message without endpoints,
    paths or quoted tool output, and, when it wraps a library's exception, only the part before
    the library's text (by convention after the first ': ')."""
    if kind.public is not None:
        return kind.public
    text = str(err) or kind.title
    cause = _library_cause(err)
    if cause is not None and not isinstance(err, errors.NotFound | errors.AlreadyExists):
        ours = text.split(": ", 1)[0].strip()
        quoted = str(cause).strip()
        if not ours or (quoted and quoted.startswith(ours[:24])):
            return "the request could not be carried out as given; the server log has the details"
        text = ours
    text = _URL.sub("(an internal endpoint)", _TOOL_OUTPUT.sub("", text))
    if isinstance(err, errors.NotFound | errors.AlreadyExists):
        return text  # names only the caller's bucket and key (which may look like a path)
    return _PATH.sub("(a server path)", text)


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
    if isinstance(err, errors.Throttled) and err.retry_after is not None:  # the S3 server's own wait
        return {"Retry-After": str(max(1, math.ceil(err.retry_after)))}
    if isinstance(err, errors.StorageUnavailable | errors.CoordinationUnavailable):
        return {"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)}
    return {}


def _glider_error(refusals: LimitedLog) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def answer(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.GliderError)
        kind = kind_for(exc)
        detail = public_detail(exc, kind)
        cause = exc.__cause__
        why = f" (from {type(cause).__name__}: {cause})" if cause is not None else ""
        name = type(exc).__name__
        if kind.status >= 500:
            # Known server-side failures are logged (without a traceback), with the request id the
            # caller sees, so operators find what the answer leaves out.
            log.warning("request failed: %s: %s%s", name, exc, why)
        elif detail != str(exc):  # a client can provoke these at will: rate limited per error class
            refusals.log(
                logging.INFO, f"request refused: {name}", "request refused: %s: %s%s", name, exc, why
            )
        return problem_response(request, kind, detail, headers=_headers_for(exc))

    return answer


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
    app.add_exception_handler(errors.GliderError, _glider_error(LimitedLog(log)))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Unexpected exceptions are answered by app.api.middleware (inside Starlette's
    # ServerErrorMiddleware, which would log them a second time and re-raise).
