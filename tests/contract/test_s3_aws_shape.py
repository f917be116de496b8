"""The S3 store against an endpoint that answers the way AWS does where moto and SeaweedFS differ
(`tests.support.aws_s3`): opaque base64 tokens, odd keys, big listings, throttling, resets, and a
server listing in directory order rather than byte order."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.exceptions import ClientError

from app.errors import IntegrityError, InvalidInput, Throttled
from app.storage.s3 import S3ObjectStore
from tests.conftest import unique_bucket_name
from tests.support.aws_s3 import AwsS3

ODD_KEYS = [
    "with space/a b.zip",
    "plus+sign/1+1.txt",
    "percent/100%.bin",
    "percent/%41",
    "unicode/naïve-日本.tgz",
]


@pytest.fixture
def bucket(aws_store: S3ObjectStore) -> str:
    name = unique_bucket_name("aws")
    aws_store.create_bucket(name)
    return name


def _fill(store: S3ObjectStore, bucket: str, keys: list[str]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: store.put_bytes(bucket, k, k.encode()), keys))


def _tokens(server: AwsS3, bucket: str) -> list[str]:
    found = []
    for method, path, query, _ in server.requests:
        if method == "GET" and path == f"/{bucket}":
            found += parse_qs(query).get("continuation-token", [])
    return found


def _pages(
    store: S3ObjectStore, bucket: str, prefix: str = "", delimiter: str | None = None
) -> Iterator[str]:
    token: str | None = None
    while True:
        page = store.list_page(bucket, prefix, delimiter=delimiter, continuation_token=token)
        yield from (o.key for o in page.objects)
        yield from page.common_prefixes
        token = page.next_token
        if token is None:
            return


def test_2500_keys_base64_tokens_come_back_unchanged(
    aws_store: S3ObjectStore, aws_endpoint: AwsS3, bucket: str
) -> None:
    keys = sorted(f"space/{i:05d}.delta" for i in range(2500))
    _fill(aws_store, bucket, keys)
    assert [o.key for o in aws_store.iter_objects(bucket)] == keys
    assert list(_pages(aws_store, bucket, "space/")) == keys
    assert list(_pages(aws_store, bucket, "space/", "/")) == keys  # 2,500 under one delimiter level
    used = _tokens(aws_endpoint, bucket)
    assert len(used) >= 4  # two follow-up pages per full listing, every one accepted
    assert all(c in "".join(used) for c in "+/=")


def test_2500_common_prefixes_with_delimiter(
    aws_store: S3ObjectStore, aws_endpoint: AwsS3, bucket: str
) -> None:
    spaces = sorted(f"app-{i:04d}/" for i in range(2500))
    _fill(aws_store, bucket, [f"{s}reference.bin" for s in spaces] + ["top.txt"])
    page = aws_store.list_page(bucket, delimiter="/")
    assert page.common_prefixes[:2] == ("app-0000/", "app-0001/")
    listed = list(_pages(aws_store, bucket, delimiter="/"))
    assert sorted(listed) == sorted([*spaces, "top.txt"])
    assert len(listed) == len(spaces) + 1
    assert len(_tokens(aws_endpoint, bucket)) >= 2


def test_altered_token_is_refused_like_aws(
    aws_endpoint: AwsS3, aws_store: S3ObjectStore, bucket: str
) -> None:
    """The endpoint is strict the way AWS is: a token with '+' turned into ' ' is a 400."""
    _fill(aws_store, bucket, [f"k/{i:04d}" for i in range(3)])
    client = boto3.client(
        "s3", endpoint_url=aws_endpoint.endpoint_url, region_name="us-east-1",
        aws_access_key_id="a", aws_secret_access_key="b",
    )  # fmt: skip
    try:
        token = client.list_objects_v2(Bucket=bucket, MaxKeys=1)["NextContinuationToken"]
        assert "+" in token
        with pytest.raises(ClientError, match="InvalidArgument"):
            client.list_objects_v2(Bucket=bucket, ContinuationToken=token.replace("+", " "))
    finally:
        client.close()
    with pytest.raises(InvalidInput, match="continuation token"):
        aws_store.list_page(bucket, continuation_token=base64.b64encode(b"forged").decode())


def test_odd_keys_round_trip_through_listing(aws_store: S3ObjectStore, bucket: str) -> None:
    _fill(aws_store, bucket, ODD_KEYS)
    assert sorted(o.key for o in aws_store.iter_objects(bucket)) == sorted(ODD_KEYS)
    assert [o.key for o in aws_store.iter_objects(bucket, "percent/")] == ["percent/%41", "percent/100%.bin"]
    for key in ODD_KEYS:
        assert aws_store.get_bytes(bucket, key) == key.encode()
        assert aws_store.head(bucket, key).size == len(key.encode())


def _after(server: AwsS3, start: int, method: str) -> list[float]:
    return [t for m, _, _, t in server.requests[start:] if m == method]


def test_slowdown_retry_after_is_waited_for_then_succeeds(aws_endpoint: AwsS3, bucket: str) -> None:
    """503 SlowDown with Retry-After: 1 on the first two requests (the GET, then the probe that
    reads the header): the GET is sent again only after >= 1 s, once, and succeeds."""
    store = S3ObjectStore(aws_endpoint.endpoint_url, "us-east-1", "a", "b", max_attempts=3)
    try:
        store.put_bytes(bucket, "k", b"v")
        before = len(aws_endpoint.requests)
        aws_endpoint.throttle(2, retry_after=1)
        assert store.get_bytes(bucket, "k") == b"v"
        gets = _after(aws_endpoint, before, "GET")
        assert len(gets) == 2  # no blind retry inside the Retry-After window
        assert gets[1] - gets[0] >= 1.0
        assert len(aws_endpoint.requests) - before == 3  # GET, one HEAD probe, GET
    finally:
        aws_endpoint.throttle(0)
        store.close()


def test_threads_share_the_servers_pause(aws_endpoint: AwsS3, bucket: str) -> None:
    """Eight HEADs throttled at once: one probe learns Retry-After, every thread waits it out
    (each thread probing for itself would take 8 more requests)."""
    store = S3ObjectStore(aws_endpoint.endpoint_url, "us-east-1", "a", "b", max_attempts=3)
    try:
        keys = [f"h{i}" for i in range(8)]
        _fill(store, bucket, keys)
        before = len(aws_endpoint.requests)
        aws_endpoint.throttle(9, retry_after=1)  # the first 8 HEADs and the probe
        started = time.monotonic()
        found = sorted(r.key for r in store.head_many(bucket, keys, concurrency=8) if r.head is not None)
        assert found == keys
        assert time.monotonic() - started >= 1.0
        assert len(_after(aws_endpoint, before, "HEAD")) <= 8 + 1 + 8 + 2  # slack: a late starter
    finally:
        aws_endpoint.throttle(0)
        store.close()


def test_retry_after_beyond_the_cap_gives_up_at_once(aws_endpoint: AwsS3, bucket: str) -> None:
    store = S3ObjectStore(
        aws_endpoint.endpoint_url, "us-east-1", "a", "b", max_attempts=3, max_retry_wait=5.0
    )
    try:
        store.put_bytes(bucket, "k", b"v")
        aws_endpoint.throttle(50, retry_after=30)
        before = len(aws_endpoint.requests)
        with pytest.raises(Throttled, match=r"throttling.*asked to wait 30 s") as caught:
            store.head(bucket, "k")
        assert caught.value.retry_after == 30
        assert "\n" not in str(caught.value)
        assert len(aws_endpoint.requests) - before == 2  # the request and its probe, no retry
        with pytest.raises(Throttled):  # the gate holds: refused without a request
            store.get_bytes(bucket, "k")
        assert len(aws_endpoint.requests) - before == 2
    finally:
        aws_endpoint.throttle(0)
        store.close()


def test_slowdown_without_retry_after_backs_off_within_bounds(aws_endpoint: AwsS3, bucket: str) -> None:
    """A server that throttles without Retry-After (AWS): full-jitter backoff, max_attempts
    requests, and once a throttled probe showed no header, no probe any more."""
    store = S3ObjectStore(aws_endpoint.endpoint_url, "us-east-1", "a", "b", max_attempts=2)
    try:
        store.put_bytes(bucket, "k", b"v")
        aws_endpoint.throttle(1, retry_after=None)
        assert store.get_bytes(bucket, "k") == b"v"  # one 503 absorbed
        aws_endpoint.throttle(50, retry_after=None)
        used = []
        for _ in range(2):
            before = len(aws_endpoint.requests)
            with pytest.raises(Throttled, match="throttling") as caught:
                store.head(bucket, "k")
            assert caught.value.retry_after is None
            used.append(len(aws_endpoint.requests) - before)
        assert used == [3, 2]  # 2 attempts, plus the one probe the first time
    finally:
        aws_endpoint.throttle(0)
        store.close()


def test_connection_reset_mid_body_is_integrity_error(
    aws_endpoint: AwsS3, aws_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    aws_store.put_bytes(bucket, "cut.bin", b"z" * 200_000)
    aws_endpoint.reset_after("cut.bin", 50_000)
    try:
        with pytest.raises(IntegrityError, match=r"truncated download of object 'cut\.bin'"):
            aws_store.get_to_file(bucket, "cut.bin", tmp_path / "out")
        with pytest.raises(IntegrityError, match="truncated"):
            aws_store.get_bytes(bucket, "cut.bin")
    finally:
        aws_endpoint.resets.clear()
    assert aws_store.get_bytes(bucket, "cut.bin") == b"z" * 200_000


def test_listing_complete_when_server_order_is_not_byte_order() -> None:
    """SeaweedFS lists `a/x` before `a-b/y`: nothing may be lost or repeated across pages."""
    with AwsS3() as server:
        server.state.directory_order = True
        store = S3ObjectStore(server.endpoint_url, "us-east-1", "a", "b")
        try:
            store.create_bucket("ordered")
            keys = [f"a/x{i:04d}" for i in range(1200)] + [f"a-b/y{i:04d}" for i in range(1200)]
            keys += ["a0", "a-c", "b/z"]
            _fill(store, "ordered", keys)
            listed = list(_pages(store, "ordered"))
            assert listed[0] == "a/x0000"  # really not byte order
            assert sorted(listed) == sorted(keys)
            assert len(listed) == len(keys)
            streamed = [o.key for o in store.iter_objects("ordered")]
            assert sorted(streamed) == sorted(keys)
            assert len(streamed) == len(keys)
            partial = [o.key for o in store.iter_objects("ordered", "a-")]
            assert sorted(partial) == sorted(k for k in keys if k.startswith("a-"))
        finally:
            store.close()


@pytest.mark.parametrize("directory_order", [False, True])
def test_big_bucket_listed_in_parallel_completely(directory_order: bool) -> None:
    """Over one page: subtrees listed by several streams, every key once, the same order each
    time, and on a byte-ordered server exactly the flat listing's order."""
    with AwsS3() as server:
        server.state.directory_order = directory_order
        store = S3ObjectStore(server.endpoint_url, "us-east-1", "a", "b", list_concurrency=4)
        try:
            store.create_bucket("big-one")
            keys = [f"releases/app-{s:02d}/v{i:03d}.zip.delta" for s in range(12) for i in range(200)]
            keys += [f"releases/app-{s:02d}/reference.bin" for s in range(12)]
            keys += ["README", "releases-notes.txt", "a-b/x", "a/y", "z/deep/er/k"]
            _fill(store, "big-one", keys)
            before = store.counts["list"]
            pages = [[o.key for o in page] for page in store.list_pages("big-one")]
            listed = [key for page in pages for key in page]
            assert len(listed) == len(keys)
            assert sorted(listed) == sorted(keys)
            assert all(len(page) <= 1000 for page in pages)
            assert store.counts["list"] - before > 12  # probe, cuts, one stream per deltaspace
            assert [o.key for page in store.list_pages("big-one") for o in page] == listed
            if not directory_order:
                assert listed == sorted(keys, key=str.encode)
        finally:
            store.close()
