"""Operator endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.api.auth import Scope, require
from app.api.context import run_blocking
from app.api.deps import MaintenanceServiceDep
from app.api.schemas import ClearCacheResponse, problem_responses
from app.services.maintenance import ClearTrigger

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/clear-cache",
    operation_id="clearCache",
    summary="Drop the cached reference.bin files of this replica",
    response_model=ClearCacheResponse,
    dependencies=[require(Scope.ADMIN)],
    responses=problem_responses(401, 403, 503),
)
async def clear_cache(request: Request, maintenance: MaintenanceServiceDep) -> ClearCacheResponse:
    result = await run_blocking(request, maintenance.clear_cache, ClearTrigger.API)
    return ClearCacheResponse(bytes_freed=result.bytes_freed, entries_freed=result.entries_freed)
