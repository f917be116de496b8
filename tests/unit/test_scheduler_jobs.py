"""Scheduler wiring and job bodies, on the real services over an in-memory store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.container import assemble
from app.observability.metrics import Metrics
from app.scheduler import CLEAR_CACHE, WARM_STATS, build_scheduler, run_job, warm_stats_job
from app.services.bundle import Services
from app.settings import CacheSettings, EngineSettings, SchedulerSettings, Settings
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
    none = build_scheduler(SchedulerSettings(clear_cache_interval=0, warm_interval=0), services)
    assert none.get_jobs() == []
    no_buckets = build_scheduler(SchedulerSettings(clear_cache_interval=60, warm_interval=60), services)
    assert [job.id for job in no_buckets.get_jobs()] == [CLEAR_CACHE]
    both = build_scheduler(
        SchedulerSettings(clear_cache_interval=60, warm_interval=30, warm_buckets=("warm-me",)), services
    )
    both.start(paused=True)  # job defaults are applied when the scheduler starts
    try:
        jobs = {job.id: job for job in both.get_jobs()}
        assert set(jobs) == {CLEAR_CACHE, WARM_STATS}
        for job in jobs.values():
            assert job.max_instances == 1
            assert job.coalesce is True
            assert job.misfire_grace_time == 60
    finally:
        both.shutdown(wait=False)
    with pytest.raises(ValidationError, match="warm_modes"):
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
    assert sample("dg_job_runs_total", {"job": WARM_STATS, "status": "success"}) == 1
    assert sample("dg_job_runs_total", {"job": WARM_STATS, "status": "failure"}) == 1
    assert sample("dg_job_runs_total", {"job": CLEAR_CACHE, "status": "failure"}) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "app.scheduler"]
    assert len(lines) == 3
    assert "warm-me/quick=miss" in lines[0]
