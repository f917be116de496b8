"""The route dependencies, declared once as `Annotated` aliases (`stats: StatsServiceDep`).

Routes name what they use by type; FastAPI resolves it per request from the `Services` bundle the
lifespan put on `app.state`. Tests swap one piece with `app.dependency_overrides[stats_service]`
without building a second bundle.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.context import ApiConfig
from app.observability.metrics import Metrics
from app.services.bundle import Services
from app.services.maintenance import MaintenanceService
from app.services.objects import ObjectService
from app.services.readiness import Readiness
from app.services.stats import StatsService
from app.services.upload import UploadService


def services(request: Request) -> Services:
    """The bundle built by the lifespan (or handed to `create_app` by a test)."""
    bundle = request.app.state.services
    assert isinstance(bundle, Services), "services are set by the lifespan"
    return bundle


ServicesDep = Annotated[Services, Depends(services)]


def api_config(request: Request) -> ApiConfig:
    config = request.app.state.api_config
    assert isinstance(config, ApiConfig), "the config is set by build_api"
    return config


def upload_service(bundle: ServicesDep) -> UploadService:
    return bundle.uploads


def object_service(bundle: ServicesDep) -> ObjectService:
    return bundle.objects


def stats_service(bundle: ServicesDep) -> StatsService:
    return bundle.stats


def maintenance_service(bundle: ServicesDep) -> MaintenanceService:
    return bundle.maintenance


def readiness(bundle: ServicesDep) -> Readiness:
    return bundle.readiness


def metrics(bundle: ServicesDep) -> Metrics:
    return bundle.metrics


ApiConfigDep = Annotated[ApiConfig, Depends(api_config)]
UploadServiceDep = Annotated[UploadService, Depends(upload_service)]
ObjectServiceDep = Annotated[ObjectService, Depends(object_service)]
StatsServiceDep = Annotated[StatsService, Depends(stats_service)]
MaintenanceServiceDep = Annotated[MaintenanceService, Depends(maintenance_service)]
ReadinessDep = Annotated[Readiness, Depends(readiness)]
MetricsDep = Annotated[Metrics, Depends(metrics)]
