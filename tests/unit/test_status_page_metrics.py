"""GET /status reads job history and reference-cache state from the Metrics registry."""

from __future__ import annotations

from datetime import UTC, datetime

from app.api.status_page import JobStatus, job_statuses, reference_cache_status
from app.observability.metrics import Metrics


def test_no_runs_means_no_jobs() -> None:
    assert job_statuses(Metrics()) == []


def test_job_counts_and_last_success() -> None:
    metrics = Metrics()
    metrics.job_runs.labels("warm_stats", "success").inc(3)
    metrics.job_runs.labels("warm_stats", "failure").inc()
    metrics.job_last_success.labels("warm_stats").set(1_700_000_000.5)
    metrics.job_runs.labels("clear_cache", "failure").inc(2)
    assert job_statuses(metrics) == [
        JobStatus(job="clear_cache", successes=0, failures=2, last_success_at=None),
        JobStatus(
            job="warm_stats",
            successes=3,
            failures=1,
            last_success_at=datetime.fromtimestamp(1_700_000_000.5, UTC),
        ),
    ]


def test_reference_cache_state() -> None:
    metrics = Metrics()
    metrics.reference_cache_bytes.set(4096)
    metrics.reference_cache_entries.set(2)
    metrics.reference_cache_requests.labels("hit").inc(5)
    metrics.reference_cache_requests.labels("miss").inc(1)
    ref = reference_cache_status(metrics)
    assert (ref.bytes, ref.entries, ref.hits, ref.misses) == (4096, 2, 5, 1)
