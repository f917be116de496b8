"""Metrics move when the thing they count happens: checked on /metrics samples, not declarations."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.container import assemble
from app.main import create_app
from app.observability.metrics import Metrics
from app.scheduler import CLEAR_CACHE, clear_cache_job, run_job
from app.settings import (
    AuthSettings,
    CacheSettings,
    EngineSettings,
    SchedulerSettings,
    Secret,
    ServerSettings,
    Settings,
)
from app.storage.memory import MemoryObjectStore
from tests.support.service import AppClient, metric

BUCKET = "metrics-bucket"
TOKEN = "metrics-test-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
REFERENCE_BYTES = 400 * 1024  # four of these cannot share a 1 MiB cache


@pytest.fixture
def client(tmp_path: Path) -> Iterator[AppClient]:
    settings = Settings(
        auth=AuthSettings(tokens=Secret(json.dumps({TOKEN: ["read", "upload", "admin"]}))),
        cache=CacheSettings(backend="memory", memory_size_mb=1),
        engine=EngineSettings(work_dir=tmp_path / "work"),
        scheduler=SchedulerSettings(clear_cache_interval=0, warm_interval=0),
        server=ServerSettings(default_bucket=BUCKET),
    )
    store = MemoryObjectStore()
    store.create_bucket(BUCKET)
    with AppClient(create_app(settings, assemble(store, settings, Metrics())), headers=HEADERS) as client:
        yield client


def test_reference_cache_evictions_move_on_a_real_eviction(client: AppClient) -> None:
    before = client.get("/metrics").text
    assert metric(before, "dg_reference_cache_evictions_total") == 0
    for index in range(4):  # four deltaspaces, four references, room for two
        response = client.post(
            "/upload",
            params={"bucket": BUCKET, "key": f"space{index}/app.zip"},
            content=os.urandom(REFERENCE_BYTES),
        )
        assert response.status_code == 201, response.text
        assert response.json()["stored_as"] == "reference"
    after = client.get("/metrics").text
    assert metric(after, "dg_reference_cache_evictions_total", {"reason": "space"}) == 2
    assert metric(after, "dg_reference_cache_entries") == 2
    assert metric(after, "dg_reference_cache_bytes") <= 1024 * 1024


def test_scheduler_metrics_name_the_task_not_the_job(client: AppClient) -> None:
    services = client.app.state.services
    assert run_job(services, CLEAR_CACHE, lambda: clear_cache_job(services))
    text = client.get("/metrics").text
    assert metric(text, "dg_job_runs_total", {"task": CLEAR_CACHE, "status": "success"}) == 1
    assert metric(text, "dg_job_last_success_timestamp_seconds", {"task": CLEAR_CACHE}) > 0
    labels = {
        name
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for name in sample.labels
    }
    assert "task" in labels
    assert not labels & {"job", "instance"}, "Prometheus would rename these to exported_*"
