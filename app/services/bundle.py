"""The bundle of use cases the API and the scheduler call, built once by `app.container`.

It lives below the API so the container (and the CLI that reuses it) never imports FastAPI.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from app.coordination.singleflight import SingleFlight
from app.observability.metrics import Metrics
from app.services.maintenance import MaintenanceService
from app.services.objects import ObjectService
from app.services.readiness import Readiness
from app.services.stats import StatsService
from app.services.upload import UploadService
from app.storage.base import ObjectStore


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the API calls. `resources` is closed when the app that built it shuts down.
    `flight` is the stats coordination (shared with `stats`); the scheduler takes job leases from it.
    `store` is the object store itself, for the scheduler's housekeeping."""

    metrics: Metrics
    uploads: UploadService
    objects: ObjectService
    stats: StatsService
    maintenance: MaintenanceService
    readiness: Readiness
    default_bucket: str = "artifacts"
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    flight: SingleFlight | None = None
    store: ObjectStore | None = None  # for housekeeping jobs (stale multipart uploads)
