"""The one table from S3 failures to `app.errors`, for obstore (data path) and botocore (admin path).

Both libraries are reduced to the same three facts -- the HTTP status, the S3 error code, and the
failure's kind when no answer came (refused, reset, timed out) -- and `classify` maps those facts
to one error class with one meaning everywhere:

| answer                                   | error              | retryable |
|------------------------------------------|--------------------|-----------|
| NoSuchBucket, or a bare 404 on a bucket  | BucketNotFound     | no        |
| NoSuchKey / 404                          | ObjectNotFound     | no        |
| 401, 403, AccessDenied, bad signature... | AccessDenied       | no        |
| 412 on a create (If-None-Match: *)       | AlreadyExists      | no        |
| 412 otherwise                            | PreconditionFailed | no        |
| 409                                      | Conflict           | no        |
| 429, 503, SlowDown                       | Throttled          | yes       |
| 408, RequestTimeout, timed out           | StorageTimeout     | yes       |
| 5xx, refused, reset                      | StorageUnavailable | yes       |
| other 4xx                                | InvalidInput       | no        |

Messages name the endpoint, bucket and key, never credentials nor the library's text.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from app.errors import (
    AccessDenied,
    AlreadyExists,
    BucketNotFound,
    Conflict,
    GliderError,
    IntegrityError,
    InvalidInput,
    ObjectNotFound,
    PreconditionFailed,
    StorageTimeout,
    StorageUnavailable,
    Throttled,
)

_ACCESS_CODES = frozenset(
    {
        "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
        "InvalidToken", "ExpiredToken", "AccountProblem", "AuthorizationHeaderMalformed",
        "InvalidClientTokenId", "UnrecognizedClientException",
    }
)  # fmt: skip
_THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "TooManyRequests"})
_TIMEOUT_CODES = frozenset({"RequestTimeout", "RequestTimeTooSkewed"})
_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")
_TIMED_OUT = re.compile(r"timed out|TimedOut|deadline has elapsed", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Facts:
    """What a failure says: `status` 0 when no HTTP answer came; `timed_out` for a silent server."""

    status: int = 0
    code: str = ""
    timed_out: bool = False
    creating: bool = False


def facts_from_text(text: str, *, creating: bool = False) -> Facts:
    """Read status and code out of an obstore error's text (its classes are coarser than ours)."""
    status = _STATUS.search(text)
    code = _CODE.search(text)
    return Facts(
        status=int(status.group(1)) if status else 0,
        code=code.group(1) if code else "",
        timed_out=status is None and _TIMED_OUT.search(text) is not None,
        creating=creating,
    )


def classify(facts: Facts, *, endpoint: str, bucket: str, key: str | None = None) -> GliderError:
    """The error for `facts`. A bare 404 means the key when `key` is given, else the bucket
    (a HEAD on a missing bucket is a bodiless 404 and reads as a missing key: see head_bucket)."""
    status, code = facts.status, facts.code
    where = f"object '{key}' in bucket '{bucket}'" if key is not None else f"bucket '{bucket}'"
    if code == "NoSuchBucket" or (status == 404 and key is None):
        return BucketNotFound(f"bucket '{bucket}' does not exist")
    if status == 404 or code == "NoSuchKey":
        return ObjectNotFound(f"{where} does not exist")
    if code in _ACCESS_CODES or status in (401, 403):
        return AccessDenied(f"S3 endpoint {endpoint} denied access to {where}: {code or status}")
    if status == 412 or code == "PreconditionFailed":
        if facts.creating:
            return AlreadyExists(f"{where} already exists")
        return PreconditionFailed(f"{where} changed since it was read")
    if code in _THROTTLE_CODES or status in (429, 503):  # S3's 503s all mean "slow down"
        return Throttled(f"S3 endpoint {endpoint} is throttling requests on {where}: {code or status}")
    if code in _TIMEOUT_CODES or status == 408 or facts.timed_out:
        return StorageTimeout(f"S3 endpoint {endpoint} timed out on {where}")
    if status == 409:
        return Conflict(f"S3 refused the change to {where}: {code or status}")
    if code == "InvalidBucketName":
        return InvalidInput(f"invalid bucket name {bucket!r}")
    if 400 <= status < 500:
        return InvalidInput(f"S3 rejected the request on {where}: {code or status}")
    if status == 0:
        return StorageUnavailable(f"S3 endpoint {endpoint} unreachable on {where}")
    return StorageUnavailable(f"S3 endpoint {endpoint} failed on {where}: {code or 'HTTP'} {status}")


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")


def check_metadata(metadata: Mapping[str, str], content_type: str) -> None:
    """Refuse what S3 cannot carry in headers (InvalidInput) before the client sees it: obstore
    panics on a control character and refuses anything beyond ASCII (encode such values first)."""
    for name, value in {**metadata, "content-type": content_type}.items():
        if not _HEADER_NAME.fullmatch(name):
            raise InvalidInput(f"metadata name {name!r} cannot be stored in S3 (letters, digits, '-' only)")
        if not _HEADER_VALUE.fullmatch(value):
            raise InvalidInput(f"metadata {name!r} cannot be stored in S3: printable ASCII only")


def is_retryable(err: GliderError) -> bool:
    """Worth trying again later: the server was unreachable, slow, throttling or failing."""
    return isinstance(err, StorageUnavailable)


def translate_obstore(
    err: Exception, *, endpoint: str, bucket: str, key: str | None = None, creating: bool = False
) -> GliderError:
    """Map one obstore failure (its own classes first, the text's status and code for the rest)."""
    from obstore.exceptions import (  # noqa: PLC0415 - keeps this module importable without obstore
        AlreadyExistsError,
        InvalidPathError,
        PermissionDeniedError,
        PreconditionError,
        UnauthenticatedError,
    )

    text = str(err)
    facts = facts_from_text(text, creating=creating)
    if isinstance(err, AlreadyExistsError):
        facts = Facts(412, facts.code, creating=True)
    elif isinstance(err, PreconditionError) and facts.status == 0:
        facts = Facts(412, facts.code, creating=creating)
    elif isinstance(err, PermissionDeniedError | UnauthenticatedError) and facts.status == 0:
        facts = Facts(403, facts.code)
    elif isinstance(err, FileNotFoundError) and facts.status == 0:
        facts = Facts(404, facts.code)
    elif "InvalidMetadata" in text:
        return InvalidInput(f"metadata of {key!r} cannot be stored in S3: printable ASCII only")
    elif isinstance(err, InvalidPathError) or (isinstance(err, ValueError) and "path" in text.lower()):
        return InvalidInput(f"key {key!r} cannot be stored: empty, '.' or '..' path segments")
    return classify(facts, endpoint=endpoint, bucket=bucket, key=key)


def translate_botocore(
    err: Exception, *, endpoint: str, bucket: str, key: str | None = None, creating: bool = False
) -> GliderError:
    """Map one botocore failure (the admin path: buckets, conditional multipart, stale uploads)."""
    from botocore.exceptions import (  # noqa: PLC0415 - botocore only on the admin path
        ClientError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(err, ClientError):
        info = err.response.get("Error", {})
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        facts = Facts(status or 400, str(info.get("Code", "")), creating=creating)
        return classify(facts, endpoint=endpoint, bucket=bucket, key=key)
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return AccessDenied(f"no usable S3 credentials for {endpoint}")
    return classify(
        Facts(timed_out=isinstance(err, ReadTimeoutError)), endpoint=endpoint, bucket=bucket, key=key
    )


@contextlib.contextmanager
def translating_botocore(
    endpoint: str, bucket: str, key: str | None = None, *, creating: bool = False
) -> Iterator[None]:
    """Re-raise any botocore failure inside the block as its `app.errors` equivalent."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        yield
    except (ClientError, BotoCoreError) as err:
        raise translate_botocore(err, endpoint=endpoint, bucket=bucket, key=key, creating=creating) from err


def truncated(bucket: str, key: str, received: int, size: int) -> IntegrityError:
    return IntegrityError(
        f"truncated download of object '{key}' in bucket '{bucket}': {received} of {size} bytes"
    )
