"""Background jobs (APScheduler 3.x): clear reference caches, warm bucket stats, abort stale
multipart uploads.

Each job runs at most once at a time (`max_instances=1`), missed runs coalesce into one, and a
run later than `misfire_grace_seconds` is skipped. Every run ends in exactly one log line and one
`dg_job_runs_total{task,status}` increment (status success, failure or skipped); a failure never
stops the schedule.

`clear_cache` runs on every replica (each has its own reference cache). `warm_stats` warms shared
figures, so each interval one replica does it: every replica's timer fires, and only the one that
takes the interval's job lease from the coordination backend (Redis: across replicas; in-process:
this replica) runs it; the others count a `skipped` run. `abort_uploads` runs hourly the same
way, on the default bucket and the warmed ones: multipart uploads a crashed process left behind
cost storage until aborted (an S3 lifecycle rule can do the same, see the README).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from app.errors import ComputationPending, GliderError
from app.services.bundle import Services
from app.services.maintenance import ClearTrigger
from app.settings import SchedulerSettings
from app.stats.model import StatsMode

log = logging.getLogger(__name__)

CLEAR_CACHE = "clear_cache"
WARM_STATS = "warm_stats"
ABORT_UPLOADS = "abort_uploads"
ABORT_UPLOADS_INTERVAL = 3600.0


def run_job(services: Services, job: str, work: Callable[[], str]) -> bool:
    """Run one job body; count and log its outcome. `work` returns a one-line summary."""
    began = time.perf_counter()
    try:
        summary = work()
    except GliderError as err:
        services.metrics.job_runs.labels(job, "failure").inc()
        log.warning("job %s failed after %.2fs: %s: %s", job, time.perf_counter() - began,
                    type(err).__name__, err)  # fmt: skip
        return False
    except Exception:  # the scheduler's edge: an unexpected bug must not kill the schedule
        services.metrics.job_runs.labels(job, "failure").inc()
        log.exception("job %s crashed after %.2fs", job, time.perf_counter() - began)
        return False
    services.metrics.job_runs.labels(job, "success").inc()
    services.metrics.job_last_success.labels(job).set(time.time())
    log.info("job %s succeeded in %.2fs: %s", job, time.perf_counter() - began, summary)
    return True


def clear_cache_job(services: Services) -> str:
    result = services.maintenance.clear_cache(ClearTrigger.SCHEDULE)
    return f"{result.bytes_freed} bytes, {result.entries_freed} entries freed"


def warm_stats_job(services: Services, buckets: tuple[str, ...], modes: tuple[StatsMode, ...]) -> str:
    """Bring every (bucket, mode) up to date; all pairs are tried, the first error is raised after.

    A stale value starts a background revalidation and counts as warmed; a computation still
    running on another replica past the wait budget (`pending`) is not a failure either."""
    failures: list[GliderError] = []
    outcomes: list[str] = []
    for bucket in buckets:
        for mode in modes:
            try:
                result = services.stats.get(bucket, mode)
                outcomes.append(f"{bucket}/{mode.value}={result.cache.value}")
            except ComputationPending:
                outcomes.append(f"{bucket}/{mode.value}=pending")
            except GliderError as err:
                failures.append(err)
                outcomes.append(f"{bucket}/{mode.value}=error")
    if failures:
        raise type(failures[0])(f"{len(failures)} of {len(outcomes)} failed ({', '.join(outcomes)})")
    return ", ".join(outcomes)


def warm_stats_turn(
    services: Services, buckets: tuple[str, ...], modes: tuple[StatsMode, ...], interval_seconds: float
) -> bool:
    """Run `warm_stats` if this replica wins this interval's job lease; else count it skipped."""
    flight = services.flight
    if flight is not None and not flight.try_acquire_job(WARM_STATS, interval_seconds):
        services.metrics.job_runs.labels(WARM_STATS, "skipped").inc()
        log.info("job %s skipped: another replica runs it this interval", WARM_STATS)
        return False
    return run_job(services, WARM_STATS, lambda: warm_stats_job(services, buckets, modes))


def abort_uploads_job(services: Services, buckets: tuple[str, ...], older_than: timedelta) -> str:
    """Abort multipart uploads older than `older_than` in each bucket; every bucket is tried."""
    if services.store is None:
        return "no object store"
    aborted: list[str] = []
    failures: list[GliderError] = []
    for bucket in buckets:
        try:
            aborted.append(f"{bucket}={services.store.abort_incomplete_uploads(bucket, older_than)}")
        except GliderError as err:
            failures.append(err)
            aborted.append(f"{bucket}=error")
    if failures:
        raise type(failures[0])(f"{len(failures)} of {len(buckets)} failed ({', '.join(aborted)})")
    return "aborted " + ", ".join(aborted)


def abort_uploads_turn(services: Services, buckets: tuple[str, ...], older_than: timedelta) -> bool:
    """Run `abort_uploads` if this replica wins this interval's job lease; else count it skipped."""
    flight = services.flight
    if flight is not None and not flight.try_acquire_job(ABORT_UPLOADS, ABORT_UPLOADS_INTERVAL):
        services.metrics.job_runs.labels(ABORT_UPLOADS, "skipped").inc()
        return False
    return run_job(services, ABORT_UPLOADS, lambda: abort_uploads_job(services, buckets, older_than))


def build_scheduler(config: SchedulerSettings, services: Services) -> BackgroundScheduler:
    """A scheduler with the configured jobs added (not started). Intervals of 0 disable a job."""
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": config.misfire_grace_seconds,
        },
    )
    if config.clear_cache_interval > 0:
        scheduler.add_job(
            run_job,
            "interval",
            args=(services, CLEAR_CACHE, lambda: clear_cache_job(services)),
            seconds=config.clear_cache_interval,
            id=CLEAR_CACHE,
            name=CLEAR_CACHE,
        )
    modes = config.warm_modes
    if config.warm_interval > 0 and config.warm_buckets and modes:
        scheduler.add_job(
            warm_stats_turn,
            "interval",
            args=(services, config.warm_buckets, modes, config.warm_interval),
            seconds=config.warm_interval,
            # Warm once right after start so the first dashboard load is already a hit.
            next_run_time=datetime.now(UTC) + timedelta(seconds=1),
            id=WARM_STATS,
            name=WARM_STATS,
        )
    if config.abort_uploads_after_hours > 0 and services.store is not None:
        buckets = tuple(dict.fromkeys((services.default_bucket, *config.warm_buckets)))
        scheduler.add_job(
            abort_uploads_turn,
            "interval",
            args=(services, buckets, timedelta(hours=config.abort_uploads_after_hours)),
            seconds=ABORT_UPLOADS_INTERVAL,
            id=ABORT_UPLOADS,
            name=ABORT_UPLOADS,
        )
    return scheduler
