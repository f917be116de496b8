"""What the routes need from below: one `Services` bundle, built by `app.container`, plus the
thread limiter through which every blocking call leaves the event loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, TypeVarTuple, Unpack

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Request

from app.observability.metrics import Metrics
from app.services.maintenance import MaintenanceService
from app.services.objects import ObjectService
from app.services.readiness import Readiness
from app.services.stats import StatsService
from app.services.upload import UploadService

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the API calls. `resources` is closed when the app that built it shuts down."""

    metrics: Metrics
    uploads: UploadService
    objects: ObjectService
    stats: StatsService
    maintenance: MaintenanceService
    readiness: Readiness
    default_bucket: str = "artifacts"
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Edge-only knobs the routes read (plain values taken from Settings by create_app)."""

    stats_fresh_seconds: float
    warm_buckets: tuple[str, ...] = ()  # shown by the status page with the default bucket


def services_of(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services), "services are set by the lifespan"
    return services


def config_of(request: Request) -> ApiConfig:
    config = request.app.state.api_config
    assert isinstance(config, ApiConfig)
    return config


async def run_blocking(request: Request, func: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """Run a blocking service call on the bounded worker pool (sized by DG_WORKER_THREADS)."""
    limiter = request.app.state.limiter
    assert isinstance(limiter, CapacityLimiter)
    return await anyio.to_thread.run_sync(func, *args, limiter=limiter)
