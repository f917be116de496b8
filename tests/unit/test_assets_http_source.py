"""GliderServerSource's HTTP handling against an in-process stand-in of the objects API."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from app.assets.http_source import GliderServerSource
from app.assets.source import RemoteVersion
from app.errors import (
    BucketNotFound,
    Forbidden,
    IntegrityError,
    InvalidInput,
    ObjectNotFound,
    StorageUnavailable,
    Unauthorized,
)

BODY = b"asset bytes " * 1000
SHA = hashlib.sha256(BODY).hexdigest()
ETAG = f'"sha256:{SHA}"'


class StandIn:
    """Answers like app/api/objects.py: strong ETag, X-Content-SHA256, 304 on If-None-Match."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.body = BODY
        self.declared_sha = SHA
        self.honour_if_none_match = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("Authorization") != "Bearer tok":
            return httpx.Response(401, json={"type": "urn:glider:problem:unauthorized"})
        if request.url.raw_path == b"/buckets/b-1/objects/dir/a%20b.bin":
            if self.honour_if_none_match and request.headers.get("If-None-Match") == ETAG:
                return httpx.Response(304, headers={"ETag": ETAG})
            return httpx.Response(
                200, content=self.body, headers={"ETag": ETAG, "X-Content-SHA256": self.declared_sha}
            )
        if request.url.path.startswith("/buckets/gone/"):
            return httpx.Response(404, json={"type": "urn:glider:problem:bucket-not-found"})
        if request.url.path.endswith("/forbidden"):
            return httpx.Response(403, json={"type": "urn:glider:problem:forbidden"})
        if request.url.path.endswith("/corrupt"):
            return httpx.Response(502, json={"type": "urn:glider:problem:integrity-error"})
        if request.url.path.endswith("/down"):
            return httpx.Response(503, json={"type": "urn:glider:problem:storage-unavailable"})
        return httpx.Response(404, json={"type": "urn:glider:problem:object-not-found"})


@pytest.fixture
def server() -> StandIn:
    return StandIn()


@pytest.fixture
def source(server: StandIn) -> GliderServerSource:
    client = httpx.Client(
        base_url="http://glider.test",
        headers={"Authorization": "Bearer tok"},
        transport=httpx.MockTransport(server),
    )
    return GliderServerSource("http://glider.test", client=client)


def test_fetch_streams_verifies_and_keeps_the_etag(source: GliderServerSource, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    version = source.fetch("b-1", "dir/a b.bin", dest)
    assert dest.read_bytes() == BODY
    assert version == RemoteVersion(ETAG, "http", SHA, len(BODY))


def test_refresh_is_one_conditional_request(
    source: GliderServerSource, server: StandIn, tmp_path: Path
) -> None:
    held = source.fetch("b-1", "dir/a b.bin", tmp_path / "a")
    server.requests.clear()
    assert source.refresh("b-1", "dir/a b.bin", held, tmp_path / "b") is None
    assert len(server.requests) == 1
    assert server.requests[0].headers["If-None-Match"] == ETAG
    assert not (tmp_path / "b").exists()


def test_refresh_against_a_server_ignoring_if_none_match(
    source: GliderServerSource, server: StandIn, tmp_path: Path
) -> None:
    server.honour_if_none_match = False
    held = source.fetch("b-1", "dir/a b.bin", tmp_path / "a")
    assert source.refresh("b-1", "dir/a b.bin", held, tmp_path / "b") is None


def test_refresh_with_a_changed_etag_downloads(source: GliderServerSource, tmp_path: Path) -> None:
    held = RemoteVersion('"sha256:old"', "http", "0" * 64, 3)
    new = source.refresh("b-1", "dir/a b.bin", held, tmp_path / "b")
    assert new is not None
    assert new.sha256 == SHA
    assert (tmp_path / "b").read_bytes() == BODY


def test_bytes_that_do_not_match_the_declared_hash_are_refused(
    source: GliderServerSource, server: StandIn, tmp_path: Path
) -> None:
    server.declared_sha = "f" * 64
    with pytest.raises(IntegrityError, match="SHA-256"):
        source.fetch("b-1", "dir/a b.bin", tmp_path / "a")


@pytest.mark.parametrize(
    ("bucket", "key", "error"),
    [
        ("gone", "x", BucketNotFound),
        ("b-1", "missing", ObjectNotFound),
        ("b-1", "forbidden", Forbidden),
        ("b-1", "corrupt", IntegrityError),
        ("b-1", "down", StorageUnavailable),
    ],
)
def test_problem_answers_become_typed_errors(
    source: GliderServerSource, tmp_path: Path, bucket: str, key: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        source.fetch(bucket, key, tmp_path / "x")


def test_wrong_token_is_unauthorized(server: StandIn, tmp_path: Path) -> None:
    client = httpx.Client(base_url="http://glider.test", transport=httpx.MockTransport(server))
    with pytest.raises(Unauthorized):
        GliderServerSource("http://glider.test", client=client).fetch("b-1", "dir/a b.bin", tmp_path / "x")


def test_unreachable_server_is_storage_unavailable(tmp_path: Path) -> None:
    source = GliderServerSource("http://127.0.0.1:9", timeout=2.0)
    try:
        with pytest.raises(StorageUnavailable, match="unreachable"):
            source.fetch("b-1", "k", tmp_path / "x")
    finally:
        source.close()


def test_publishing_through_the_server_is_refused(source: GliderServerSource, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="write-once"):
        source.publish("b-1", "k", tmp_path, "0" * 64)


def test_unreachable_server_message_names_it_without_credentials(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    base = "http://user:s3cret@127.0.0.1:1"
    source = GliderServerSource(
        base, client=httpx.Client(base_url=base, transport=httpx.MockTransport(refuse))
    )
    try:
        with pytest.raises(StorageUnavailable) as raised:
            source.fetch("bkt", "a.bin", tmp_path / "a.bin")
    finally:
        source.close()
    assert "s3cret" not in str(raised.value)
    assert "http://127.0.0.1:1" in str(raised.value)
