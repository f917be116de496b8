"""The botocore -> app.errors table, fed real botocore exception values (no server needed)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
)

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
from app.storage.s3_errors import translate_error

ENDPOINT = "http://127.0.0.1:9"


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "RequestId": "r",
                "HostId": "",
                "HTTPHeaders": {},
                "RetryAttempts": 0,
            },
        },
        "GetObject",
    )


@pytest.mark.parametrize(
    ("code", "status", "key", "expected"),
    [
        ("NoSuchBucket", 404, "k", BucketNotFound),
        ("NoSuchKey", 404, "k", ObjectNotFound),
        ("404", 404, "k", ObjectNotFound),  # HEAD: bare 404 on a key
        ("404", 404, None, BucketNotFound),  # HEAD bucket: bare 404
        ("AccessDenied", 403, "k", AccessDenied),
        ("InvalidAccessKeyId", 403, None, AccessDenied),
        ("SignatureDoesNotMatch", 403, "k", AccessDenied),
        ("403", 403, "k", AccessDenied),
        ("PreconditionFailed", 412, "k", AlreadyExists),
        ("InvalidBucketName", 400, None, InvalidInput),
        ("InternalError", 500, "k", StorageUnavailable),
        ("SlowDown", 503, "k", StorageUnavailable),
        ("ServiceUnavailable", 503, None, StorageUnavailable),
        ("BucketNotEmpty", 409, None, Conflict),
        ("InvalidArgument", 400, "k", InvalidInput),
    ],
)
def test_client_errors(code: str, status: int, key: str | None, expected: type[GliderError]) -> None:
    err = translate_error(_client_error(code, status), endpoint=ENDPOINT, bucket="b", key=key)
    assert type(err) is expected


def test_messages_name_what_is_missing() -> None:
    missing_bucket = translate_error(
        _client_error("NoSuchBucket", 404), endpoint=ENDPOINT, bucket="x", key="k"
    )
    assert str(missing_bucket) == "bucket 'x' does not exist"
    missing_key = translate_error(_client_error("NoSuchKey", 404), endpoint=ENDPOINT, bucket="x", key="a/b")
    assert str(missing_key) == "object 'a/b' in bucket 'x' does not exist"


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url=ENDPOINT),
        ConnectTimeoutError(endpoint_url=ENDPOINT),
        ReadTimeoutError(endpoint_url=ENDPOINT),
    ],
)
def test_network_failures_are_unavailable(error: Exception) -> None:
    err = translate_error(error, endpoint=ENDPOINT, bucket="b", key="k")
    assert isinstance(err, StorageUnavailable)
    assert str(err).startswith(f"S3 endpoint {ENDPOINT} unreachable: ")


def test_other_botocore_failures() -> None:
    truncated = translate_error(
        IncompleteReadError(actual_bytes=1, expected_bytes=2), endpoint=ENDPOINT, bucket="b", key="k"
    )
    assert isinstance(truncated, IntegrityError)
    assert "truncated" in str(truncated)
    assert isinstance(translate_error(NoCredentialsError(), endpoint=ENDPOINT, bucket="b"), AccessDenied)
