"""Both scheduler jobs observed firing in a real service process (short intervals)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import S3Endpoint
from tests.support.service import metric, running_service, wait_until

pytestmark = pytest.mark.integration


def test_clear_cache_and_warm_stats_fire(seaweed: S3Endpoint, bucket: str) -> None:
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps({"tok-0123456789abcdef": ["read"]}),
        "DG_EMBEDDED_S3": "false",
        "DG_CLEAR_CACHE_INTERVAL": "1",
        "DG_WARM_INTERVAL": "1",
        "DG_WARM_BUCKETS": bucket,
        "DG_WARM_MODES": "quick,sampled",
    }
    with running_service(env) as svc, httpx.Client(base_url=svc.url, timeout=10) as client:

        def value(name: str, labels: dict[str, str]) -> float:
            return metric(client.get("/metrics").text, name, labels)

        def both_fired_twice() -> bool:
            return all(
                value("dg_job_runs_total", {"task": job, "status": "success"}) >= 2
                for job in ("clear_cache", "warm_stats")
            )

        wait_until(both_fired_twice, timeout=30, interval=0.25, what="both jobs to succeed twice")
        text = client.get("/metrics").text
        assert metric(text, "dg_cache_clears_total", {"trigger": "schedule"}) >= 2
        assert metric(text, "dg_job_runs_total", {"status": "failure"}) == 0
        for mode in ("quick", "sampled"):
            assert metric(text, "dg_stats_requests_total", {"mode": mode}) >= 2
        assert metric(text, "dg_job_last_success_timestamp_seconds", {"task": "warm_stats"}) > 0
        # The warmed cache now answers a dashboard without computing.
        answer = client.get(
            f"/buckets/{bucket}/stats", headers={"Authorization": "Bearer tok-0123456789abcdef"}
        )
        assert answer.status_code == 200
        assert answer.json()["cache"]["result"] in ("hit", "stale")
    log = svc.log_text()
    assert "job clear_cache succeeded" in log
    assert "job warm_stats succeeded" in log


def test_failing_warm_job_is_counted_and_keeps_running(seaweed: S3Endpoint) -> None:
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps({"tok-0123456789abcdef": ["read"]}),
        "DG_EMBEDDED_S3": "false",
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "1",
        "DG_WARM_BUCKETS": "no-such-bucket-for-warming",
    }
    with running_service(env) as svc, httpx.Client(base_url=svc.url, timeout=10) as client:
        wait_until(
            lambda: (
                metric(
                    client.get("/metrics").text,
                    "dg_job_runs_total",
                    {"task": "warm_stats", "status": "failure"},
                )
                >= 2
            ),
            timeout=30,
            interval=0.25,
            what="two failed warm runs",
        )
        assert client.get("/healthz").status_code == 200
    assert "job warm_stats failed" in svc.log_text()
