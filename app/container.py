"""Service assembly: Settings in, a ready `Services` bundle out.

Store, codec, reference cache and engine come from `app.components` (shared with the CLI, which
must not pay for importing services and redis); here: the embedded SeaweedFS when asked for
(DG_EMBEDDED_S3 and no endpoint), the coordination backend
(in-process, or Redis with in-process fallback when DG_REDIS_URL is set), and wires the engine,
the stats service (through single-flight) and the use cases. Everything that needs closing goes
on `Services.resources`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from app.components import S3Target, build_engine, build_store
from app.coordination.base import BackendStatus, CacheKey, CoordinationBackend
from app.coordination.factory import open_backend
from app.coordination.freshness import Policy
from app.coordination.singleflight import SingleFlight
from app.domain.sizes import MiB
from app.domain.workarea import WorkArea
from app.observability.metrics import Metrics
from app.services.bundle import Services
from app.services.maintenance import MaintenanceService
from app.services.objects import ObjectService
from app.services.readiness import Readiness, coordination_check, s3_check
from app.services.stats import StatsService
from app.services.upload import UploadService
from app.settings import (
    RedisSettings,
    Settings,
    StatsSettings,
    default_cache_root,
)
from app.storage.base import ObjectStore
from app.storage.seaweed import SeaweedServer

log = logging.getLogger(__name__)


# Read by /readyz so a Redis outage shows on an idle replica too (a read of a key never written).
_PROBE_KEY = CacheKey("glider-readiness", "probe")


def embedded_data_dir() -> Path:
    return default_cache_root() / "seaweed"


def s3_target(settings: Settings, resources: contextlib.ExitStack) -> S3Target:
    """Where S3 is: configured, the standard AWS chain, or an embedded SeaweedFS started here."""
    s3 = settings.s3
    secret = s3.secret_access_key.get_secret_value() if s3.secret_access_key else None
    if s3.endpoint_url or not settings.server.embedded_s3:
        return S3Target(s3.endpoint_url, s3.access_key_id, secret, embedded=False)
    server = SeaweedServer(data_dir=embedded_data_dir())
    resources.enter_context(server)
    log.info("no S3 endpoint configured: started embedded SeaweedFS at %s", server.endpoint_url)
    return S3Target(server.endpoint_url, server.access_key, server.secret_key, embedded=True)


def open_coordination(redis: RedisSettings, metrics: Metrics) -> CoordinationBackend:
    """In-process without DG_REDIS_URL; else Redis in front of an in-process fallback (no I/O yet)."""
    url = redis.url.get_secret_value() if redis.url is not None else None
    if url:
        parts = urlsplit(url)  # logged without credentials
        log.info("stats coordination through Redis at %s:%s (key prefix %r)",
                 parts.hostname, parts.port or 6379, redis.key_prefix)  # fmt: skip
    return open_backend(
        url, key_prefix=redis.key_prefix, socket_timeout_seconds=redis.socket_timeout_seconds, metrics=metrics
    )


def build_flight(stats: StatsSettings, backend: CoordinationBackend, metrics: Metrics) -> SingleFlight:
    policy = Policy(
        fresh_seconds=stats.fresh_seconds,
        max_stale_seconds=stats.max_stale_seconds,
        wait_seconds=stats.wait_seconds,
        lease_seconds=stats.lease_seconds,
        retry_backoff_seconds=stats.retry_backoff_seconds,
    )
    return SingleFlight(backend, policy, metrics=metrics)


def probed_status(backend: CoordinationBackend) -> Callable[[], BackendStatus]:
    """The backend's status after one round trip: the resilient backend notices an outage only
    when an operation fails, and an idle replica would otherwise report a dead Redis as fine."""

    def status() -> BackendStatus:
        backend.read(_PROBE_KEY)
        return backend.status()

    return status


def work_root(settings: Settings) -> Path:
    """Where service processes keep scratch files: DG_WORK_DIR, else <user cache>/glider/work."""
    return settings.engine.work_dir or default_cache_root() / "work"


def with_work_area(settings: Settings, resources: contextlib.ExitStack) -> Settings:
    """Settings whose work_dir is this process's own directory under `work_root` (spooled uploads,
    deltas, rebuilds), claimed after sweeping what killed processes left there; removed at close."""
    area = WorkArea.claim(work_root(settings))
    resources.callback(area.close)
    engine = dataclasses.replace(settings.engine, work_dir=area.path)
    return dataclasses.replace(settings, engine=engine)


def build_services(settings: Settings, metrics: Metrics) -> Services:
    """Blocking (may start SeaweedFS and touch S3). On failure everything started is stopped."""
    resources = contextlib.ExitStack()
    with resources:
        settings = with_work_area(settings, resources)
        target = s3_target(settings, resources)
        store = build_store(settings.s3, target)
        resources.callback(store.close)
        if target.embedded:
            store.create_bucket(settings.server.default_bucket)
        return assemble(store, settings, metrics, resources.pop_all())


def assemble(
    store: ObjectStore,
    settings: Settings,
    metrics: Metrics,
    resources: contextlib.ExitStack | None = None,
) -> Services:
    """Wire everything above a ready object store (tests pass an in-memory one)."""
    resources = resources if resources is not None else contextlib.ExitStack()
    work_dir = settings.engine.work_dir
    engine = build_engine(settings, store, metrics)
    backend = open_coordination(settings.redis, metrics)
    flight = build_flight(settings.stats, backend, metrics)
    # Closed before the store (LIFO): running computations finish first, then Redis is let go.
    resources.callback(flight.close)
    stats = StatsService(
        store,
        metrics=metrics,
        head_concurrency=settings.stats.head_concurrency,
        flight=flight,
    )
    resources.callback(stats.close)
    readiness = Readiness(
        {
            "s3": s3_check(store, settings.server.default_bucket),
            "coordination": coordination_check(probed_status(backend)),
        }
    )
    return Services(
        metrics=metrics,
        uploads=UploadService(
            engine, stats, metrics, max_bytes=settings.server.max_upload_mb * MiB, work_dir=work_dir
        ),
        objects=ObjectService(engine, stats, work_dir=work_dir),
        stats=stats,
        maintenance=MaintenanceService(engine, metrics),
        readiness=readiness,
        default_bucket=settings.server.default_bucket,
        resources=resources,
        flight=flight,
        store=store,
    )
