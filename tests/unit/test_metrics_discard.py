"""`Metrics(discard=True)` (what CLI commands use): every call the code makes works and records
nothing, and prometheus_client stays unimported."""

from __future__ import annotations

import subprocess
import sys

from app.observability.metrics import Metrics


def test_every_call_is_taken_and_nothing_kept() -> None:
    metrics = Metrics(discard=True)
    metrics.uploads.labels(stored_as="delta", reason="none").inc()
    metrics.upload_ratio.observe(0.5)
    metrics.reference_cache_bytes.set(10)
    metrics.job_runs.labels("warm_stats", "ok").inc(2)
    assert not hasattr(metrics, "registry")


def test_prometheus_client_is_not_imported() -> None:
    code = (
        "import sys\n"
        "from app.observability.metrics import Metrics\n"
        "Metrics(discard=True).uploads.labels(stored_as='delta', reason='none').inc()\n"
        "print('prometheus_client' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"
