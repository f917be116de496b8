"""Routes take their services as dependencies, so a test can swap one with dependency_overrides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.api.deps import readiness, stats_service
from app.container import assemble
from app.main import create_app
from app.observability.metrics import Metrics
from app.services.readiness import CheckOutcome, ReadinessReport
from app.services.stats_result import CacheOutcome, StatsResult
from app.settings import (
    AuthSettings,
    CacheSettings,
    EngineSettings,
    SchedulerSettings,
    Secret,
    ServerSettings,
    Settings,
)
from app.stats.model import BucketStats, StatsMode
from app.storage.memory import MemoryObjectStore
from tests.support.service import AppClient

BUCKET = "deps-bucket"
HEADERS = {"Authorization": "Bearer tok-0123456789abcdef"}


class FixedStats:
    """Answers every request with the same figures and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, StatsMode, bool, bool]] = []

    def get(
        self, bucket: str, mode: StatsMode, *, refresh: bool = False, use_cache: bool = True
    ) -> StatsResult:
        self.calls.append((bucket, mode, refresh, use_cache))
        stats = BucketStats(bucket, 3, 3000, 1000, 2000, 2000 / 3000, 2, 1)
        return StatsResult(stats, CacheOutcome.HIT, datetime(2026, 1, 1, tzinfo=UTC), True, 0.0)


class NotReady:
    def check(self) -> ReadinessReport:
        return ReadinessReport(ready=False, checks=(CheckOutcome("s3", False, "overridden"),))


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[AppClient]:
    settings = Settings(
        auth=AuthSettings(tokens=Secret(json.dumps({"tok-0123456789abcdef": ["read", "upload", "admin"]}))),
        cache=CacheSettings(backend="memory", memory_size_mb=8),
        engine=EngineSettings(work_dir=tmp_path / "work"),
        scheduler=SchedulerSettings(clear_cache_interval=0, warm_interval=0),
        server=ServerSettings(default_bucket=BUCKET),
    )
    store = MemoryObjectStore()
    store.create_bucket(BUCKET)
    with AppClient(create_app(settings, assemble(store, settings, Metrics())), headers=HEADERS) as client:
        yield client


def test_stats_route_uses_the_overridden_service(app_client: AppClient) -> None:
    fake = FixedStats()
    app_client.app.dependency_overrides[stats_service] = lambda: fake
    response = app_client.get(f"/buckets/{BUCKET}/stats", params={"mode": "sampled", "refresh": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["object_count"], body["total_size"], body["space_saved"]) == (3, 3000, 2000)
    assert fake.calls == [(BUCKET, StatsMode.SAMPLED, True, True)]


def test_without_override_the_real_service_answers(app_client: AppClient) -> None:
    response = app_client.get(f"/buckets/{BUCKET}/stats")
    assert response.status_code == 200, response.text
    assert response.json()["object_count"] == 0


def test_readiness_override_turns_the_probe_red(app_client: AppClient) -> None:
    app_client.app.dependency_overrides[readiness] = NotReady
    response = app_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == [{"name": "s3", "ok": False, "detail": "overridden"}]
    app_client.app.dependency_overrides.clear()
    assert app_client.get("/readyz").status_code == 200
