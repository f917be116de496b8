"""Shared fixtures: one real SeaweedFS per test session, a fresh bucket per test.

Integration tests talk to this server (never a mock). It binds 127.0.0.1 only, with telemetry off.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.storage.base import ObjectStore
from app.storage.memory import MemoryObjectStore
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from tests.support.aws_s3 import AwsS3
from tests.support.moto_server import MotoServer

_counter = itertools.count()


@dataclass(frozen=True)
class S3Endpoint:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (deltaglider, glider CLI, uvicorn) pointed at this S3."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))}
        return base | {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }


# Variables Settings reads: the machine's own must not leak into a test of settings.
SETTINGS_ENV_PREFIXES = ("DG_", "AWS_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable Settings reads is inherited from the machine (DG_*, AWS_*, proxies)."""
    for name in list(os.environ):
        if name.upper().startswith(SETTINGS_ENV_PREFIXES):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture(scope="session")
def seaweed() -> Iterator[S3Endpoint]:
    with SeaweedServer() as server:
        yield S3Endpoint(server.endpoint_url, server.access_key, server.secret_key)


def unique_bucket_name(tag: str = "t") -> str:
    return f"{tag}-{next(_counter)}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def s3_store(seaweed: S3Endpoint) -> Iterator[S3ObjectStore]:
    """One S3ObjectStore (one pooled client) on the session's SeaweedFS, default tuning."""
    store = S3ObjectStore(seaweed.endpoint_url, seaweed.region, seaweed.access_key, seaweed.secret_key)
    yield store
    store.close()


@pytest.fixture
def bucket(s3_store: S3ObjectStore) -> str:
    """A fresh, empty bucket on the session's SeaweedFS."""
    name = unique_bucket_name()
    s3_store.create_bucket(name)
    return name


@pytest.fixture(params=["seaweedfs", "memory", "moto", "aws"])
def any_store(request: pytest.FixtureRequest) -> tuple[ObjectStore, str]:
    """`(store, bucket)` for contract tests: every ObjectStore implementation, a fresh bucket each.

    seaweedfs: the S3 store on real SeaweedFS; moto: the S3 store on moto's server; aws: the S3
    store on the in-test endpoint that answers the way AWS does (`tests.support.aws_s3`);
    memory: the in-memory fake. Servers start only when a test asks for them.
    """
    if request.param == "memory":
        store = MemoryObjectStore()
        name = unique_bucket_name()
        store.create_bucket(name)
        return store, name
    fixture = {"seaweedfs": "s3_store", "moto": "moto_store", "aws": "aws_store"}[request.param]
    s3: S3ObjectStore = request.getfixturevalue(fixture)
    name = unique_bucket_name()
    s3.create_bucket(name)
    return s3, name


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """moto's S3 in server mode (real HTTP) on 127.0.0.1."""
    with MotoServer() as server:
        yield S3Endpoint(server.endpoint_url, "moto-key", "moto-secret")


@pytest.fixture(scope="session")
def moto_store(moto: S3Endpoint) -> Iterator[S3ObjectStore]:
    store = S3ObjectStore(moto.endpoint_url, moto.region, moto.access_key, moto.secret_key)
    yield store
    store.close()


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[AwsS3]:
    """The in-test AWS-shaped endpoint (base64 tokens, url encoding, faults on demand)."""
    with AwsS3() as server:
        yield server


@pytest.fixture(scope="session")
def aws_store(aws_endpoint: AwsS3) -> Iterator[S3ObjectStore]:
    store = S3ObjectStore(aws_endpoint.endpoint_url, "us-east-1", "aws-key", "aws-secret", max_attempts=3)
    yield store
    store.close()
