"""The service's problem+json answers read back into `app.errors` classes, for the CLI's client.

The class comes from the problem `type` (`urn:glider:problem:<slug>`: `app.api.problems`'s table
read backwards), else from the status alone (a proxy's page, an unknown type), so a command exits
with the same status through the service as in direct mode. The table is copied rather than
imported so the CLI never loads FastAPI; `tests/unit/test_cli_client.py` keeps the two in step.
"""

from __future__ import annotations

import httpx

from app import errors
from app.domain.urls import redact_url

PROBLEM_PREFIX = "urn:glider:problem:"

PROBLEM_ERRORS: dict[str, type[errors.GliderError]] = {
    "invalid-input": errors.InvalidInput,
    "checksum-mismatch": errors.ChecksumMismatch,
    "empty-file": errors.EmptyFile,
    "payload-too-large": errors.PayloadTooLarge,
    "validation-error": errors.InvalidInput,
    "unauthorized": errors.Unauthorized,
    "forbidden": errors.Forbidden,
    "not-found": errors.NotFound,
    "bucket-not-found": errors.BucketNotFound,
    "object-not-found": errors.ObjectNotFound,
    "reserved-key": errors.ReservedKey,
    "conflict": errors.Conflict,
    "already-exists": errors.AlreadyExists,
    "reference-in-use": errors.ReferenceInUse,
    "integrity-error": errors.IntegrityError,
    "storage-access-denied": errors.AccessDenied,
    "codec-error": errors.CodecError,
    "storage-unavailable": errors.StorageUnavailable,
    "recompressor-unavailable": errors.RecompressorUnavailable,
    "coordination-unavailable": errors.CoordinationUnavailable,
    "computation-pending": errors.ComputationPending,
    "internal-error": errors.GliderError,
}
# When the answer is not one of ours (a proxy's page, an unknown type): the status decides.
STATUS_ERRORS: dict[int, type[errors.GliderError]] = {
    400: errors.InvalidInput,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    422: errors.InvalidInput,
    502: errors.IntegrityError,
    503: errors.StorageUnavailable,
    504: errors.StorageUnavailable,
}


def error_for(response: httpx.Response, server: str) -> errors.GliderError:
    """The error a non-2xx `response` stands for, with a one-line message (the body is read)."""
    response.read()
    status = response.status_code
    slug, detail = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        slug = str(body.get("type", "")).removeprefix(PROBLEM_PREFIX)
        detail = str(body.get("detail") or body.get("title") or "")
    cls = PROBLEM_ERRORS.get(slug) or STATUS_ERRORS.get(status, errors.GliderError)
    reason = response.reason_phrase or "error"
    message = f"{redact_url(server)} answered {status} {reason}" + (f": {detail}" if detail else "")
    return cls(" ".join(message.split()))  # one line, whatever the server put in `detail`
