"""GET /metrics: Prometheus text exposition from the injected registry."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.auth import Scope, is_metrics_open, require
from app.api.context import services_of

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics (open by default; DG_AUTH_OPEN_METRICS=false requires `read`)",
    response_class=Response,
    dependencies=[require(Scope.READ, open_when=is_metrics_open)],
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    registry = services_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
