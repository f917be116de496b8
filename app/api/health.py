"""Liveness and readiness probes (open by default; DG_AUTH_OPEN_HEALTH=false requires `read`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.auth import Scope, is_health_open, require
from app.api.context import run_blocking
from app.api.deps import ReadinessDep
from app.api.schemas import HealthResponse, ReadinessCheck, ReadinessResponse, problem_responses

router = APIRouter(tags=["health"])
_guard = require(Scope.READ, open_when=is_health_open)


@router.get(
    "/healthz",
    operation_id="getHealth",
    summary="The process is alive (no dependency is contacted)",
    response_model=HealthResponse,
    dependencies=[_guard],
    responses=problem_responses(401, 403),
)
async def healthz() -> HealthResponse:
    return HealthResponse()


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Ready to serve: S3 reachable, plus other configured dependencies",
    response_model=ReadinessResponse,
    dependencies=[_guard],
    responses={503: {"model": ReadinessResponse, "description": "A dependency is not usable"}},
)
async def readyz(request: Request, readiness: ReadinessDep) -> JSONResponse:
    report = await run_blocking(request, readiness.check)
    body = ReadinessResponse(
        ready=report.ready,
        checks=[ReadinessCheck(name=c.name, ok=c.ok, detail=c.detail) for c in report.checks],
    )
    return JSONResponse(body.model_dump(), status_code=200 if report.ready else 503)
