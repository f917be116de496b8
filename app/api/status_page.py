"""The status page for people at `/`, and `GET /status`, the document it reads besides bucket stats.

Access model: the page itself (HTML, JS, CSS from `app/api/static/`) is served without a token,
like /healthz: it is a static shell holding no data. Every figure it shows is fetched by the
browser from the API with a `read` token the viewer pastes (kept in the tab's sessionStorage,
never in cookies or localStorage): `GET /status` says which buckets to show and how this
replica's jobs and reference cache fare, and each bucket's figures come from the very
`GET /buckets/{bucket}/stats` the dashboards call, so the page cannot disagree with the API.
A strict Content-Security-Policy (same-origin scripts, styles and fetches only, no inline code)
keeps a pasted token away from anything but this server.

Job history is what the Metrics registry holds (the scheduler keeps no run log): per job the
success and failure counts and the time of the last success, for this process since it started.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources

from fastapi import APIRouter, Response
from prometheus_client.metrics import MetricWrapperBase
from pydantic import BaseModel, ConfigDict, Field

from app import __version__
from app.api.auth import Scope, require
from app.api.deps import ApiConfigDep, ServicesDep
from app.api.schemas import problem_responses
from app.observability.metrics import Metrics

router = APIRouter(tags=["status"])

# Same-origin only; no inline script or style, so nothing injected could read the token.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_ASSETS = {
    "status.html": "text/html; charset=utf-8",
    "status.js": "text/javascript; charset=utf-8",
    "status.css": "text/css; charset=utf-8",
}


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True)


class JobStatus(_Wire):
    job: str
    successes: int = Field(description="Successful runs since this replica started")
    failures: int = Field(description="Failed runs since this replica started")
    last_success_at: datetime | None = Field(description="End of the last successful run, if any")


class ReferenceCacheStatus(_Wire):
    bytes: int = Field(description="Bytes of reference.bin copies held now")
    entries: int
    hits: int = Field(description="Lookups answered from the cache since this replica started")
    misses: int


class StatusResponse(_Wire):
    version: str
    default_bucket: str
    buckets: list[str] = Field(description="The default bucket, then DG_WARM_BUCKETS, without repeats")
    jobs: list[JobStatus] = Field(description="Scheduler jobs that have run in this replica, by name")
    reference_cache: ReferenceCacheStatus
    generated_at: datetime


def _samples(metric: MetricWrapperBase, suffix: str = "") -> Iterator[tuple[dict[str, str], float]]:
    """(labels, value) of a metric's own samples (`_total` for counters; not `_created`)."""
    for family in metric.collect():
        for sample in family.samples:
            if sample.name == family.name + suffix:
                yield sample.labels, sample.value


def job_statuses(metrics: Metrics) -> list[JobStatus]:
    runs: dict[str, dict[str, int]] = {}
    for labels, value in _samples(metrics.job_runs, "_total"):
        runs.setdefault(labels["task"], {})[labels["status"]] = int(value)
    last = {labels["task"]: value for labels, value in _samples(metrics.job_last_success)}
    return [
        JobStatus(
            job=job,
            successes=runs.get(job, {}).get("success", 0),
            failures=runs.get(job, {}).get("failure", 0),
            last_success_at=datetime.fromtimestamp(last[job], UTC) if job in last else None,
        )
        for job in sorted(runs.keys() | last.keys())
    ]


def reference_cache_status(metrics: Metrics) -> ReferenceCacheStatus:
    lookups = {
        labels["result"]: int(value) for labels, value in _samples(metrics.reference_cache_requests, "_total")
    }
    return ReferenceCacheStatus(
        bytes=int(sum(v for _, v in _samples(metrics.reference_cache_bytes))),
        entries=int(sum(v for _, v in _samples(metrics.reference_cache_entries))),
        hits=lookups.get("hit", 0),
        misses=lookups.get("miss", 0),
    )


@router.get(
    "/status",
    operation_id="getStatus",
    summary="What the status page shows besides bucket figures: buckets, job runs, reference cache",
    response_model=StatusResponse,
    dependencies=[require(Scope.READ)],
    responses=problem_responses(401, 403),
)
async def get_status(services: ServicesDep, config: ApiConfigDep) -> StatusResponse:
    buckets = list(dict.fromkeys((services.default_bucket, *config.warm_buckets)))
    return StatusResponse(
        version=__version__,
        default_bucket=services.default_bucket,
        buckets=buckets,
        jobs=job_statuses(services.metrics),
        reference_cache=reference_cache_status(services.metrics),
        generated_at=datetime.now(UTC),
    )


@functools.cache
def _asset(name: str) -> bytes:
    return resources.files("app.api").joinpath("static", name).read_bytes()


def _serve(name: str) -> Response:
    return Response(_asset(name), media_type=_ASSETS[name], headers=_PAGE_HEADERS)


@router.get("/", include_in_schema=False)
async def status_page() -> Response:
    return _serve("status.html")


@router.get("/static/status.js", include_in_schema=False)
async def status_script() -> Response:
    return _serve("status.js")


@router.get("/static/status.css", include_in_schema=False)
async def status_styles() -> Response:
    return _serve("status.css")
