"""The asset cache reading through a real Glider server (uvicorn subprocess) on real SeaweedFS."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.assets.cache import AssetCache, Outcome
from app.assets.http_source import GliderServerSource
from app.assets.revalidation import Freshness, RevalidationPolicy
from app.caches.memory import MemoryReferenceCache
from app.engine.codec import XDelta3Codec
from app.engine.engine import DeltaEngine
from app.engine.references import ReferenceProvider
from app.errors import ObjectNotFound, Unauthorized
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.assets import Clock
from tests.support.service import ServiceProcess, running_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(seaweed: S3Endpoint) -> Iterator[ServiceProcess]:
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps({"tok-read-0123456789": ["read"]}),
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "0",
        "DG_EMBEDDED_S3": "false",
    }
    with running_service(env) as svc:
        yield svc


@pytest.fixture
def engine(s3_store: S3ObjectStore, tmp_path: Path) -> DeltaEngine:
    refs = ReferenceProvider(s3_store, MemoryReferenceCache(1 << 26), work_dir=tmp_path / "work")
    return DeltaEngine(s3_store, XDelta3Codec(), refs, work_dir=tmp_path / "work")


def put(engine: DeltaEngine, tmp_path: Path, bucket: str, key: str, data: bytes) -> None:
    path = tmp_path / "upload"
    path.write_bytes(data)
    engine.put(bucket, key, path)


def test_fetch_revalidate_replace_through_the_server(
    service: ServiceProcess, engine: DeltaEngine, bucket: str, tmp_path: Path
) -> None:
    v1 = bytes(range(256)) * 2000
    v2 = v1[:1000] + b"changed" + v1[1007:]
    put(engine, tmp_path, bucket, "rel/app.zip", v1)
    requests: list[httpx.Request] = []
    client = httpx.Client(
        base_url=service.url,
        headers={"Authorization": "Bearer tok-read-0123456789"},
        timeout=60,
        event_hooks={"request": [requests.append]},
    )
    clock = Clock()
    cache = AssetCache(
        tmp_path / "cache",
        GliderServerSource(service.url, client=client),
        RevalidationPolicy(Freshness.after(60)),
        now=clock,
    )
    try:
        first = cache.get(bucket, "rel/app.zip")
        assert first.outcome is Outcome.DOWNLOADED
        assert first.path.read_bytes() == v1
        assert cache.get(bucket, "rel/app.zip").outcome is Outcome.HIT
        assert len(requests) == 1

        clock.advance(60)
        assert cache.get(bucket, "rel/app.zip").outcome is Outcome.REVALIDATED
        assert len(requests) == 2  # one conditional GET, answered 304
        assert requests[-1].headers["If-None-Match"]

        put(engine, tmp_path, bucket, "rel/app.zip", v2)
        clock.advance(60)
        replaced = cache.get(bucket, "rel/app.zip")
        assert replaced.outcome is Outcome.REPLACED
        assert replaced.path.read_bytes() == v2
        assert len(requests) == 3
        with pytest.raises(ObjectNotFound):
            cache.get(bucket, "rel/missing.zip")
    finally:
        client.close()


def test_wrong_token_is_unauthorized(
    service: ServiceProcess, engine: DeltaEngine, bucket: str, tmp_path: Path
) -> None:
    put(engine, tmp_path, bucket, "a.txt", b"x")
    source = GliderServerSource(service.url, "wrong")
    try:
        with pytest.raises(Unauthorized):
            source.fetch(bucket, "a.txt", tmp_path / "out")
    finally:
        source.close()


def test_cli_fetch_through_the_server(
    service: ServiceProcess, engine: DeltaEngine, bucket: str, tmp_path: Path, seaweed: S3Endpoint
) -> None:
    put(engine, tmp_path, bucket, "docs/a.txt", b"via server")
    env = {k: v for k, v in seaweed.env().items() if not k.startswith("AWS_")} | {
        "DG_ASSET_SERVER_URL": service.url,
        "DG_ASSET_SERVER_TOKEN": "tok-read-0123456789",
        "DG_ASSET_CACHE_DIR": str(tmp_path / "cli-cache"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "app", "fetch", f"s3://{bucket}/docs/a.txt"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).read_bytes() == b"via server"
