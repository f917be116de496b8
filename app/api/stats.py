"""GET /buckets/{bucket}/stats: dashboards' figures, with cache state and HTTP validators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from app.api.auth import Scope, require
from app.api.conditional import none_match, weak_etag
from app.api.context import run_blocking
from app.api.deps import ApiConfigDep, StatsServiceDep
from app.api.schemas import StatsResponse, problem_responses
from app.domain.keys import validate_bucket
from app.services.stats import StatsResult
from app.stats.model import StatsMode

router = APIRouter(tags=["stats"])


def _figures(bucket: str, mode: StatsMode, result: StatsResult) -> dict[str, object]:
    s = result.stats
    return {
        "bucket": bucket,
        "mode": mode.value,
        "object_count": s.object_count,
        "total_size": s.total_size,
        "compressed_size": s.compressed_size,
        "space_saved": s.space_saved,
        "average_compression_ratio": s.average_compression_ratio,
        "delta_objects": s.delta_objects,
        "direct_objects": s.direct_objects,
        "exact": result.exact,
    }


@router.get(
    "/buckets/{bucket}/stats",
    operation_id="getBucketStats",
    summary="Bucket statistics: original vs stored bytes, savings, object counts",
    response_model=StatsResponse,
    dependencies=[require(Scope.READ)],
    responses={
        304: {"description": "Not modified: the figures still match If-None-Match"},
        **problem_responses(400, 401, 403, 404, 422, 502, 503),
    },
)
async def get_bucket_stats(
    request: Request,
    *,
    stats: StatsServiceDep,
    config: ApiConfigDep,
    bucket: Annotated[str, Path(description="Bucket name")],
    mode: Annotated[StatsMode, Query(description="quick: LIST only; sampled / detailed: HEADs")] = (
        StatsMode.QUICK
    ),
    refresh: Annotated[bool, Query(description="Recompute even if the cache is valid")] = False,
    use_cache: Annotated[bool, Query(description="Read and write the stats cache")] = True,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    validate_bucket(bucket)
    result = await run_blocking(
        request, lambda: stats.get(bucket, mode, refresh=refresh, use_cache=use_cache)
    )
    figures = _figures(bucket, mode, result)
    etag = weak_etag(figures)
    fresh_for = max(0, int(config.stats_fresh_seconds - result.age_seconds))
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={fresh_for}",
        "Age": str(max(0, int(result.age_seconds))),
    }
    if none_match(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    body = StatsResponse.model_validate(
        figures
        | {
            "cache": {
                "result": result.cache.value,
                "computed_at": result.computed_at,
                "age_seconds": round(result.age_seconds, 3),
            }
        }
    )
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)
