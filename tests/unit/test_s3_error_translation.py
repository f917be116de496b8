"""The one S3 error table: facts -> app.errors, fed obstore's real error texts and real botocore values."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from obstore.exceptions import AlreadyExistsError, GenericError, PermissionDeniedError

from app.errors import (
    AccessDenied,
    AlreadyExists,
    BucketNotFound,
    Conflict,
    GliderError,
    InvalidInput,
    ObjectNotFound,
    PreconditionFailed,
    StorageTimeout,
    StorageUnavailable,
    Throttled,
)
from app.storage.s3_errors import (
    Facts,
    classify,
    facts_from_text,
    is_retryable,
    translate_botocore,
    translate_obstore,
)

ENDPOINT = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("facts", "key", "expected", "retryable"),
    [
        (Facts(404, "NoSuchBucket"), "k", BucketNotFound, False),
        (Facts(404, "NoSuchKey"), "k", ObjectNotFound, False),
        (Facts(404), "k", ObjectNotFound, False),  # HEAD: bare 404 on a key
        (Facts(404), None, BucketNotFound, False),  # bare 404 on a bucket
        (Facts(403, "AccessDenied"), "k", AccessDenied, False),
        (Facts(403, "SignatureDoesNotMatch"), None, AccessDenied, False),
        (Facts(400, "ExpiredToken"), "k", AccessDenied, False),
        (Facts(401), "k", AccessDenied, False),
        (Facts(412, "PreconditionFailed", creating=True), "k", AlreadyExists, False),
        (Facts(412, "PreconditionFailed"), "k", PreconditionFailed, False),
        (Facts(409, "BucketNotEmpty"), None, Conflict, False),
        (Facts(503, "SlowDown"), "k", Throttled, True),
        (Facts(429), "k", Throttled, True),
        (Facts(400, "RequestTimeout"), "k", StorageTimeout, True),
        (Facts(timed_out=True), "k", StorageTimeout, True),
        (Facts(500, "InternalError"), "k", StorageUnavailable, True),
        (Facts(503, "ServiceUnavailable"), None, Throttled, True),
        (Facts(502), None, StorageUnavailable, True),
        (Facts(), "k", StorageUnavailable, True),  # refused, reset
        (Facts(400, "InvalidBucketName"), None, InvalidInput, False),
        (Facts(400, "InvalidArgument"), "k", InvalidInput, False),
    ],
)
def test_table(facts: Facts, key: str | None, expected: type[GliderError], retryable: bool) -> None:
    err = classify(facts, endpoint=ENDPOINT, bucket="b", key=key)
    assert type(err) is expected
    assert is_retryable(err) is retryable


def test_messages_name_what_is_missing() -> None:
    bucket = classify(Facts(404, "NoSuchBucket"), endpoint=ENDPOINT, bucket="x", key="k")
    assert str(bucket) == "bucket 'x' does not exist"
    key = classify(Facts(404, "NoSuchKey"), endpoint=ENDPOINT, bucket="x", key="a/b")
    assert str(key) == "object 'a/b' in bucket 'x' does not exist"


# Texts as obstore 0.12 words them (captured from SeaweedFS and a dead port).
_LIST_403 = (
    "Generic S3 error: Error performing list request: Error performing GET http://h/b?list-type=2 in 7ms"
    ' - Server returned non-2xx status code: 403 Forbidden: <?xml version="1.0"?>\n<Error><Code>'
    "SignatureDoesNotMatch</Code><Message>The request signature...</Message></Error>"
)
_DEAD = (
    "Generic S3 error: Error performing GET http://127.0.0.1:9/b in 1ms, after 1 retries, "
    "retry_timeout: 180s - HTTP error: error sending request"
)
_SLOW = (
    "Generic S3 error: ... Server returned non-2xx status code: 503 Service Unavailable: "
    "<Error><Code>SlowDown</Code></Error>"
)


def test_obstore_texts_and_classes() -> None:
    assert facts_from_text(_LIST_403) == Facts(403, "SignatureDoesNotMatch")
    cases: list[tuple[Exception, type[GliderError]]] = [
        (GenericError(_LIST_403), AccessDenied),
        (GenericError(_DEAD), StorageUnavailable),
        (GenericError(_SLOW), Throttled),
        (GenericError("Generic S3 error: operation timed out"), StorageTimeout),
        (
            FileNotFoundError("Object at location k not found: ... status code: 404 Not Found: "),
            ObjectNotFound,
        ),
        (AlreadyExistsError("Object at location k already exists"), AlreadyExists),
        (PermissionDeniedError("The operation lacked the necessary privileges"), AccessDenied),
        (ValueError('Could not parse path: Path "x//y" contained empty path segment'), InvalidInput),
    ]
    for error, expected in cases:
        translated = translate_obstore(error, endpoint=ENDPOINT, bucket="b", key="k")
        assert type(translated) is expected, error
        assert "Debug source" not in str(translated)


def _client_error(code: str, status: int) -> ClientError:
    meta = {"HTTPStatusCode": status, "RequestId": "r", "HostId": "", "HTTPHeaders": {}, "RetryAttempts": 0}
    return ClientError({"Error": {"Code": code, "Message": ""}, "ResponseMetadata": meta}, "Op")  # type: ignore[typeddict-item]


def test_botocore_same_table() -> None:
    assert (
        type(translate_botocore(_client_error("NoSuchBucket", 404), endpoint=ENDPOINT, bucket="b"))
        is BucketNotFound
    )
    lost = translate_botocore(
        _client_error("PreconditionFailed", 412), endpoint=ENDPOINT, bucket="b", key="k", creating=True
    )
    assert type(lost) is AlreadyExists
    assert (
        type(translate_botocore(_client_error("SlowDown", 503), endpoint=ENDPOINT, bucket="b")) is Throttled
    )
    assert type(translate_botocore(NoCredentialsError(), endpoint=ENDPOINT, bucket="b")) is AccessDenied
    dead = translate_botocore(EndpointConnectionError(endpoint_url=ENDPOINT), endpoint=ENDPOINT, bucket="b")
    assert type(dead) is StorageUnavailable
    slow = translate_botocore(ReadTimeoutError(endpoint_url=ENDPOINT), endpoint=ENDPOINT, bucket="b")
    assert type(slow) is StorageTimeout
