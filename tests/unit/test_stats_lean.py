"""The lean S3 client's pure parts: SigV4 against botocore's signer, LIST parsing, error mapping."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from app.errors import (
    AccessDenied,
    AlreadyExists,
    BucketNotFound,
    InvalidInput,
    ObjectNotFound,
    StorageUnavailable,
)
from app.storage.lean import LeanS3
from app.storage.lean_wire import object_head, parse_list_page, translate
from app.storage.sigv4 import EMPTY_SHA256, Credentials, SigV4Signer, canonical_query, encode_path


def _botocore_signature(method: str, url: str, headers: dict[str, str]) -> tuple[str, float]:
    """botocore's Authorization header and the time it signed at (it reads the clock itself).

    With no body it signs the empty payload's SHA-256, as LeanS3 does for bodiless requests.
    """
    request = AWSRequest(method=method, url=url, headers=headers)
    signer = S3SigV4Auth(BotoCredentials("AKIDEXAMPLE", "secret/key+x"), "s3", "eu-west-1")
    signer.add_auth(request)
    stamp = dt.datetime.strptime(str(request.headers["X-Amz-Date"]), "%Y%m%dT%H%M%SZ")
    return str(request.headers["Authorization"]), calendar.timegm(stamp.timetuple())


@pytest.mark.parametrize(
    ("method", "key", "query"),
    [
        ("HEAD", "rel/1.0/app é+x y.zip.delta", {}),
        (
            "GET",
            None,
            {"list-type": "2", "max-keys": "1000", "continuation-token": "a/b c+d=", "prefix": "x/"},
        ),
        ("GET", ".deltaglider/stats_quick.json", {}),
    ],
)
def test_signature_matches_botocore(method: str, key: str | None, query: dict[str, str]) -> None:
    signer = SigV4Signer(Credentials("AKIDEXAMPLE", "secret/key+x"), "eu-west-1")
    path = "/bucket" + ("/" + encode_path(key) if key is not None else "")
    qs = canonical_query(query)
    url = f"http://s3.example:9000{path}" + (f"?{qs}" if qs else "")
    theirs, when = _botocore_signature(method, url, {"host": "s3.example:9000"})
    ours = signer.sign(method, "s3.example:9000", path, qs, payload_sha256=EMPTY_SHA256, now=when)
    assert ours["authorization"] == theirs


SEAWEED_PAGE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Name>b</Name><Prefix></Prefix><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
    "<Contents><Key>a/x%20y%2Bz%26.zip.delta</Key><ETag>&#34;abc&#34;</ETag><Size>10</Size>"
    "<StorageClass>STANDARD</StorageClass><LastModified>2026-11-22T03:20:35Z</LastModified></Contents>"
    "<Contents><Key>a/%C3%BC.txt</Key><ETag>&#34;def-2&#34;</ETag><Size>0</Size>"
    "<StorageClass>STANDARD</StorageClass><LastModified>2026-11-22T03:20:36Z</LastModified></Contents>"
    "<NextContinuationToken>a%2F%C3%BC.txt</NextContinuationToken><EncodingType>url</EncodingType>"
    "<KeyCount>2</KeyCount></ListBucketResult>"
)
AWS_PAGE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Name>b</Name><Prefix>p%2F</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>"
    "<Delimiter>%2F</Delimiter><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
    "<Contents><Key>p%2Fk+1</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
    "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
    "<Size>434234</Size><StorageClass>STANDARD</StorageClass><Owner><ID>o</ID><DisplayName>d</DisplayName>"
    "</Owner></Contents><CommonPrefixes><Prefix>p%2Fsub%2F</Prefix></CommonPrefixes></ListBucketResult>"
)


def test_parses_a_seaweedfs_listing_page() -> None:
    page = parse_list_page(SEAWEED_PAGE, "b", "http://s3")
    assert [(o.key, o.etag, o.size) for o in page.objects] == [
        ("a/x y+z&.zip.delta", "abc", 10),
        ("a/ü.txt", "def-2", 0),
    ]
    assert page.objects[0].last_modified == dt.datetime(2026, 11, 22, 3, 20, 35, tzinfo=dt.UTC)
    assert page.next_token == "a/ü.txt"
    assert page.common_prefixes == ()


def test_parses_an_aws_listing_page() -> None:
    page = parse_list_page(AWS_PAGE, "b", "http://s3")
    assert [(o.key, o.etag, o.size) for o in page.objects] == [
        ("p/k 1", "fba9dede5f27731c9771645a39863328", 434234)
    ]
    assert page.next_token is None
    assert page.common_prefixes == ("p/sub/",)


def test_an_incomplete_listing_is_an_error_not_a_short_count() -> None:
    broken = SEAWEED_PAGE.replace("<Size>10</Size>", "")
    with pytest.raises(StorageUnavailable, match="incomplete listing"):
        parse_list_page(broken, "b", "http://s3")


@pytest.mark.parametrize(
    ("status", "body", "key", "error"),
    [
        (404, b"<Error><Code>NoSuchBucket</Code></Error>", "k", BucketNotFound),
        (404, b"", None, BucketNotFound),
        (404, b"", "k", ObjectNotFound),
        (403, b"<Error><Code>AccessDenied</Code></Error>", "k", AccessDenied),
        (412, b"", "k", AlreadyExists),
        (400, b"<Error><Code>InvalidBucketName</Code></Error>", None, InvalidInput),
        (503, b"<Error><Code>SlowDown</Code></Error>", "k", StorageUnavailable),
        (500, b"", None, StorageUnavailable),
    ],
)
def test_error_translation(status: int, body: bytes, key: str | None, error: type[Exception]) -> None:
    assert isinstance(translate(status, body, endpoint="http://s3", bucket="b", key=key), error)


def test_unreachable_endpoint_is_storage_unavailable() -> None:
    lean = LeanS3("http://127.0.0.1:9", "us-east-1", Credentials("a", "b"), max_attempts=2, connect_timeout=1)
    with pytest.raises(StorageUnavailable, match="unreachable"):
        lean.list_page("b")
    assert lean.counts["list"] == 2


def test_invalid_endpoint_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        LeanS3("ftp://x", "us-east-1", Credentials("a", "b"))


def test_object_head_from_headers() -> None:
    head = object_head(
        "k",
        {
            "content-length": "12",
            "etag": '"abc"',
            "last-modified": "Sun, 22 Nov 2026 03:20:36 GMT",
            "x-amz-meta-dg-file-size": "99",
            "content-type": "application/zip",
        },
    )
    assert (head.size, head.etag, head.metadata, head.content_type) == (
        12,
        "abc",
        {"dg-file-size": "99"},
        "application/zip",
    )
    assert head.last_modified == dt.datetime(2026, 11, 22, 3, 20, 36, tzinfo=dt.UTC)
