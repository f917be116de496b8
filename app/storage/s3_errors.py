"""The one table from botocore failures to `app.errors`, used by every S3 call.

Messages name the endpoint, bucket and key, never credentials.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from app.errors import (
    AccessDenied,
    AlreadyExists,
    BucketNotFound,
    Conflict,
    GliderError,
    IntegrityError,
    InvalidInput,
    ObjectNotFound,
    StorageUnavailable,
)

_ACCESS_CODES = frozenset(
    {
        "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
        "InvalidToken", "ExpiredToken", "AccountProblem", "AuthorizationHeaderMalformed",
    }
)  # fmt: skip
_UNAVAILABLE_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def http_status(err: ClientError) -> int:
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def translate_error(err: Exception, *, endpoint: str, bucket: str, key: str | None = None) -> GliderError:
    """Map one botocore failure. A bare 404 means the key when `key` is given, else the bucket.

    (HEAD answers a missing bucket with a bare 404 too: it reads as a missing key; `head_bucket` tells.)
    """
    where = f"object '{key}' in bucket '{bucket}'" if key is not None else f"bucket '{bucket}'"
    if isinstance(err, ClientError):
        code, status = error_code(err), http_status(err)
        detail = f"{code}: {err.response.get('Error', {}).get('Message', '')}"
        if code == "NoSuchBucket" or (status == 404 and key is None):
            return BucketNotFound(f"bucket '{bucket}' does not exist")
        if code == "NoSuchKey" or status == 404:
            return ObjectNotFound(f"{where} does not exist")
        if code in _ACCESS_CODES or status == 403:
            return AccessDenied(f"S3 endpoint {endpoint} denied access to {where}: {code or status}")
        if code == "PreconditionFailed" or status == 412:
            return AlreadyExists(f"{where} already exists")
        if code == "InvalidBucketName":
            return InvalidInput(f"invalid bucket name {bucket!r}")
        if status >= 500 or code in _UNAVAILABLE_CODES:
            return StorageUnavailable(f"S3 endpoint {endpoint} failed on {where}: {code} (HTTP {status})")
        if status == 409:
            return Conflict(f"S3 refused the change to {where}: {detail}")
        if 400 <= status < 500:
            return InvalidInput(f"S3 rejected the request on {where}: {detail}")
        return StorageUnavailable(f"S3 endpoint {endpoint} answered HTTP {status} on {where}: {detail}")
    if isinstance(err, BotoConnectionError | HTTPClientError):
        return StorageUnavailable(f"S3 endpoint {endpoint} unreachable: {err}")
    if isinstance(err, IncompleteReadError):
        return IntegrityError(f"truncated download of {where}: {err}")
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return AccessDenied(f"no usable S3 credentials for {endpoint}: {err}")
    if isinstance(err, ParamValidationError):
        return InvalidInput(str(err))
    return StorageUnavailable(f"S3 request on {where} failed: {type(err).__name__}: {err}")


@contextlib.contextmanager
def translating(endpoint: str, bucket: str, key: str | None = None) -> Iterator[None]:
    """Re-raise any botocore failure inside the block as its `app.errors` equivalent."""
    try:
        yield
    except (ClientError, BotoCoreError) as err:
        raise translate_error(err, endpoint=endpoint, bucket=bucket, key=key) from err
