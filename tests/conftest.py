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

from app.storage.seaweed import SeaweedServer

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
