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
from app.storage.lean import LeanS3
from app.storage.lean_store import LeanObjectStore
from app.storage.memory import MemoryObjectStore
from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import SeaweedServer
from app.storage.sigv4 import Credentials

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


@pytest.fixture(scope="session")
def lean_store(seaweed: S3Endpoint, s3_store: S3ObjectStore) -> Iterator[LeanObjectStore]:
    """The lean client's ObjectStore (file transfers delegated to `s3_store`) on the same S3."""
    lean = LeanS3(seaweed.endpoint_url, seaweed.region, Credentials(seaweed.access_key, seaweed.secret_key))
    yield LeanObjectStore(lean, fallback=lambda: s3_store)
    lean.close()


@pytest.fixture(params=["s3", "memory", "lean"])
def any_store(request: pytest.FixtureRequest) -> tuple[ObjectStore, str]:
    """`(store, bucket)` for contract tests: every ObjectStore implementation, a fresh bucket each.

    The S3 variants start SeaweedFS only when a test actually asks for them.
    """
    if request.param == "s3":
        return request.getfixturevalue("s3_store"), request.getfixturevalue("bucket")
    if request.param == "lean":
        return request.getfixturevalue("lean_store"), request.getfixturevalue("bucket")
    store = MemoryObjectStore()
    name = unique_bucket_name()
    store.create_bucket(name)
    return store, name
