"""GET /metrics: Prometheus text exposition from the injected registry."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.auth import Scope, is_metrics_open, require
from app.api.deps import MetricsDep

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics (open by default; DG_AUTH_OPEN_METRICS=false requires `read`)",
    response_class=Response,
    dependencies=[require(Scope.READ, open_when=is_metrics_open)],
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
