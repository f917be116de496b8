"""Every Prometheus metric Glider exports, on one object with an injected registry.

Names follow `dg_<noun>_<unit>`; labels come from fixed sets (mode, result, kind, task, status,
trigger), never from object keys. No label is named `job` or `instance`: Prometheus sets those on
every scraped series and would rename ours to `exported_job`. Tests build a fresh
`Metrics(CollectorRegistry())` each.

`Metrics(discard=True)` records nothing and never imports prometheus_client: a CLI process has
nobody to export to, and importing it (with http.server, email, ssl) costs a `glider cp` about a
tenth of its start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)


class _Discarded:
    """Every metric of a discarding `Metrics`: takes the calls Glider makes, keeps nothing."""

    def labels(self, *values: str, **labels: str) -> _Discarded:
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def dec(self, amount: float = 1) -> None:
        pass

    def set(self, value: float) -> None:
        pass

    def observe(self, value: float) -> None:
        pass


_DISCARDED = _Discarded()


def _discarded(*args: object, **kwargs: object) -> Any:  # stands in for any metric class
    return _DISCARDED


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None, *, discard: bool = False) -> None:
        """Metrics in `registry` (default: a new one); `discard`: record nothing, no registry."""
        counter: Callable[..., Counter]
        gauge: Callable[..., Gauge]
        histogram: Callable[..., Histogram]
        if discard:
            counter = gauge = histogram = _discarded
            r = None
        else:
            import prometheus_client as prom  # noqa: PLC0415 - see the module docstring

            counter, gauge, histogram = prom.Counter, prom.Gauge, prom.Histogram
            self.registry = r = registry if registry is not None else prom.CollectorRegistry()
        # Stats
        self.stats_requests = counter(
            "dg_stats_requests",
            "Stats requests by mode and cache result",
            ["mode", "result"],
            registry=r,
        )
        self.stats_validation_list_seconds = histogram(
            "dg_stats_validation_list_seconds",
            "Time of the LIST that validates a cached stats document",
            ["mode"],
            buckets=_FAST,
            registry=r,
        )
        self.stats_computations = counter(
            "dg_stats_computations",
            "Stats (re)computations actually performed",
            ["mode"],
            registry=r,
        )
        self.stats_compute_seconds = histogram(
            "dg_stats_compute_seconds",
            "Time of a stats computation",
            ["mode"],
            buckets=_SLOW,
            registry=r,
        )
        self.stats_heads = counter(
            "dg_stats_head_requests", "HEAD requests issued for stats", ["mode"], registry=r
        )
        self.stats_cache_errors = counter(
            "dg_stats_cache_errors", "Stats cache document failures", ["operation"], registry=r
        )
        self.stats_age_seconds = gauge(
            "dg_stats_age_seconds", "Age of the stats last served, by mode", ["mode"], registry=r
        )
        # Reference cache
        self.reference_cache_requests = counter(
            "dg_reference_cache_requests", "Reference cache lookups", ["result"], registry=r
        )
        self.reference_cache_bytes = gauge(
            "dg_reference_cache_bytes", "Bytes held by reference caches", registry=r
        )
        self.reference_cache_entries = gauge(
            "dg_reference_cache_entries", "Entries in reference caches", registry=r
        )
        self.reference_cache_evictions = counter(
            "dg_reference_cache_evictions", "Reference cache evictions", ["reason"], registry=r
        )
        self.reference_fetches = counter(
            "dg_reference_fetches", "reference.bin downloads from S3", registry=r
        )
        # Uploads and downloads
        self.uploads = counter(
            "dg_uploads",
            "Uploads by how they were stored and, for direct ones, why (reason: none otherwise)",
            ["stored_as", "reason"],
            registry=r,
        )
        self.upload_bytes = counter(
            "dg_upload_bytes", "Upload bytes, original and stored", ["kind"], registry=r
        )
        self.upload_errors = counter(
            "dg_upload_errors", "Failed uploads by error type", ["error"], registry=r
        )
        self.upload_ratio = histogram(
            "dg_upload_ratio",
            "Stored/original size ratio of uploads",
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0),
            registry=r,
        )
        self.downloads = counter("dg_downloads", "Downloads by stored kind", ["stored_as"], registry=r)
        self.codec_seconds = histogram(
            "dg_codec_seconds", "Delta codec run time", ["operation"], buckets=_SLOW, registry=r
        )
        # Maintenance and jobs
        self.cache_clears = counter("dg_cache_clears", "Reference cache clears", ["trigger"], registry=r)
        self.job_runs = counter("dg_job_runs", "Scheduler task runs", ["task", "status"], registry=r)
        self.job_last_success = gauge(
            "dg_job_last_success_timestamp_seconds",
            "Unix time of each scheduler task's last success",
            ["task"],
            registry=r,
        )
        # Coordination
        self.coordination_degraded = counter(
            "dg_coordination_degraded",
            "Times shared coordination fell back to in-process",
            ["reason"],
            registry=r,
        )
        self.coordination_up = gauge(
            "dg_coordination_up", "1 when the shared backend answers, else 0", registry=r
        )
        self.stats_lease_events = counter(
            "dg_stats_lease_events", "Lease acquisitions, losses and waits", ["event"], registry=r
        )
        # HTTP
        self.http_requests = counter(
            "dg_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_request_seconds = histogram(
            "dg_http_request_seconds",
            "HTTP request duration",
            ["method", "route"],
            buckets=_FAST,
            registry=r,
        )
