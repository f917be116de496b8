"""The S3 store's transport settings on real loopback plumbing: HTTPS through a proxy (CONNECT),
a private CA from AWS_CA_BUNDLE, NO_PROXY, and the settings that carry them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.components import s3_options
from app.errors import StorageUnavailable
from app.settings import S3Settings
from app.storage.s3 import S3ObjectStore
from tests.support.aws_s3 import AwsS3
from tests.support.tls_proxy import Certs, Proxy, TlsFront, make_ca


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_ca(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def backend() -> Iterator[AwsS3]:
    with AwsS3() as server:
        server.state.buckets["tls-bucket"] = {}
        yield server


@pytest.fixture
def https(certs: Certs, backend: AwsS3) -> Iterator[str]:
    port = int(backend.endpoint_url.rsplit(":", 1)[1])
    with TlsFront(certs, ("127.0.0.1", port)) as front:
        yield f"https://127.0.0.1:{front.port}"


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with Proxy() as running:
        yield running  # type: ignore[misc]


def _round_trip(store: S3ObjectStore) -> None:
    store.put_bytes("tls-bucket", "k", b"through the tunnel", {"dg-x": "1"})
    assert store.get_bytes("tls-bucket", "k") == b"through the tunnel"
    assert [o.key for o in store.iter_objects("tls-bucket")] == ["k"]


def test_https_through_proxy_with_private_ca(https: str, proxy: Proxy, certs: Certs) -> None:
    store = S3ObjectStore(https, "us-east-1", "a", "b", https_proxy=proxy.url, ca_bundle=certs.ca)
    try:
        _round_trip(store)
    finally:
        store.close()
    assert proxy.seen
    assert all(seen == f"CONNECT {https.removeprefix('https://')}" for seen in proxy.seen)


def test_no_proxy_goes_direct(https: str, proxy: Proxy, certs: Certs) -> None:
    store = S3ObjectStore(
        https,
        "us-east-1",
        "a",
        "b",
        https_proxy=proxy.url,
        no_proxy="localhost,127.0.0.1",
        ca_bundle=certs.ca,
    )
    try:
        _round_trip(store)
    finally:
        store.close()
    assert proxy.seen == []


def test_untrusted_certificate_is_unavailable(https: str) -> None:
    store = S3ObjectStore(https, "us-east-1", "a", "secret-value", max_attempts=1)
    try:
        with pytest.raises(StorageUnavailable, match="unreachable") as caught:
            store.head("tls-bucket", "k")
        assert "secret-value" not in str(caught.value)
    finally:
        store.close()


def test_http_proxy_for_http_endpoints(backend: AwsS3, proxy: Proxy) -> None:
    store = S3ObjectStore(backend.endpoint_url, "us-east-1", "a", "b", http_proxy=proxy.url)
    try:
        _round_trip(store)
    finally:
        store.close()
    assert proxy.seen
    assert all(seen.endswith(backend.endpoint_url.removeprefix("http://")) for seen in proxy.seen)


def test_standard_variables_reach_the_store(monkeypatch: pytest.MonkeyPatch, certs: Certs) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", ".svc.cluster.local,10.0.0.0/8")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certs.ca))
    options = s3_options(S3Settings())
    assert options.https_proxy == "http://proxy.internal:3128"
    assert options.no_proxy == ".svc.cluster.local,10.0.0.0/8"
    assert options.ca_bundle == Path(certs.ca)
