"""Scheduler wiring and job bodies, on the real services over an in-memory store."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.container import assemble
from app.errors import BucketNotFound
from app.observability.metrics import Metrics
from app.scheduler import (
    ABORT_UPLOADS,
    CLEAR_CACHE,
    WARM_STATS,
    abort_uploads_job,
    abort_uploads_turn,
    build_scheduler,
    run_job,
    warm_stats_job,
)
from app.services.bundle import Services
from app.settings import CacheSettings, EngineSettings, SchedulerSettings, Settings, SettingsError
from app.stats.model import StatsMode
from app.storage.memory import MemoryObjectStore


@pytest.fixture
def services(tmp_path: Path) -> Services:
    store = MemoryObjectStore()
    store.create_bucket("warm-me")
    settings = Settings(
        cache=CacheSettings(backend="memory"), engine=EngineSettings(work_dir=tmp_path / "work")
    )
    return assemble(store, settings, Metrics())


def test_jobs_follow_the_settings(services: Services) -> None:
    none = build_scheduler(
        SchedulerSettings(clear_cache_interval=0, warm_interval=0, abort_uploads_after_hours=0), services
    )
    assert none.get_jobs() == []
    no_buckets = build_scheduler(SchedulerSettings(clear_cache_interval=60, warm_interval=60), services)
    assert [job.id for job in no_buckets.get_jobs()] == [CLEAR_CACHE, ABORT_UPLOADS]
    both = build_scheduler(
        SchedulerSettings(clear_cache_interval=60, warm_interval=30, warm_buckets=("warm-me",)), services
    )
    both.start(paused=True)  # job defaults are applied when the scheduler starts
    try:
        jobs = {job.id: job for job in both.get_jobs()}
        assert set(jobs) == {CLEAR_CACHE, WARM_STATS, ABORT_UPLOADS}
        for job in jobs.values():
            assert job.max_instances == 1
            assert job.coalesce is True
            assert job.misfire_grace_time == 60
    finally:
        both.shutdown(wait=False)
    with pytest.raises(SettingsError, match="DG_WARM_MODES"):
        SchedulerSettings(warm_modes=("fast",))  # type: ignore[arg-type]  # a bad mode never reaches a job


def test_run_job_counts_and_logs_each_outcome(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    metrics = services.metrics.registry
    with caplog.at_level(logging.INFO, logger="app.scheduler"):
        assert run_job(
            services, WARM_STATS, lambda: warm_stats_job(services, ("warm-me",), (StatsMode.QUICK,))
        )
        assert not run_job(
            services, WARM_STATS, lambda: warm_stats_job(services, ("no-such-bucket",), (StatsMode.QUICK,))
        )
        assert not run_job(services, CLEAR_CACHE, lambda: str(1 / 0))
    sample = metrics.get_sample_value
    assert sample("dg_job_runs_total", {"task": WARM_STATS, "status": "success"}) == 1
    assert sample("dg_job_runs_total", {"task": WARM_STATS, "status": "failure"}) == 1
    assert sample("dg_job_runs_total", {"task": CLEAR_CACHE, "status": "failure"}) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "app.scheduler"]
    assert len(lines) == 3
    assert "warm-me/quick=miss" in lines[0]


class _StaleUploads(MemoryObjectStore):
    """The fake with multipart uploads to abort: how many per bucket, and what was asked."""

    def __init__(self, stale: dict[str, int]) -> None:
        super().__init__()
        self.stale = stale
        self.asked: list[tuple[str, timedelta]] = []

    def abort_incomplete_uploads(
        self, bucket: str, older_than: timedelta, *, now: datetime | None = None
    ) -> int:
        self.asked.append((bucket, older_than))
        if bucket not in self.stale:
            raise BucketNotFound(f"bucket '{bucket}' does not exist")
        return self.stale.pop(bucket)


def test_abort_uploads_job_covers_the_known_buckets(tmp_path: Path) -> None:
    store = _StaleUploads({"artifacts": 2, "warm-me": 1})
    settings = Settings(cache=CacheSettings(backend="memory"), engine=EngineSettings(work_dir=tmp_path / "w"))
    services = assemble(store, settings, Metrics())
    config = SchedulerSettings(warm_buckets=("warm-me", "artifacts"), abort_uploads_after_hours=12)
    scheduler = build_scheduler(config, services)
    [job] = [j for j in scheduler.get_jobs() if j.id == ABORT_UPLOADS]
    assert job.trigger.interval == timedelta(hours=1)
    assert job.func(*job.args) is True
    assert store.asked == [("artifacts", timedelta(hours=12)), ("warm-me", timedelta(hours=12))]
    runs = services.metrics.registry.get_sample_value
    assert runs("dg_job_runs_total", {"task": ABORT_UPLOADS, "status": "success"}) == 1
    assert not abort_uploads_turn(services, ("warm-me",), timedelta(hours=1))  # lease held this hour
    assert runs("dg_job_runs_total", {"task": ABORT_UPLOADS, "status": "skipped"}) == 1
    gone = ("gone-bucket",)
    assert not run_job(services, ABORT_UPLOADS, lambda: abort_uploads_job(services, gone, timedelta(hours=1)))
    assert runs("dg_job_runs_total", {"task": ABORT_UPLOADS, "status": "failure"}) == 1
