"""Schemathesis drives the committed openapi/openapi.json against a running service: no 5xx.

The service has a real bucket to find (so uploads, downloads and stats reach the engine and S3,
not only the validators); generated bucket names mostly miss and must answer 4xx, never 500.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import S3Endpoint
from tests.support.service import REPO, running_service

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"

# Most generated buckets and keys are random (4xx paths); the dictionaries steer a share of the
# cases onto the real bucket and seeded keys so uploads, downloads and stats run for real.
# (Keys without '/': schemathesis does not use dictionary values containing '/' as path params.)
CONFIG = """
[dictionaries.buckets]
values = ["{bucket}"]

[dictionaries.keys]
values = ["seed.zip", "seed-2.zip", "readme.txt"]

[parameters]
bucket = {{ dictionary = "buckets", probability = 0.6 }}
key = {{ dictionary = "keys", probability = 0.5 }}
"""


def served(log: str) -> Counter[tuple[str, int]]:
    """(route template, status) counts from the service's one-line-per-request log."""
    counts: Counter[tuple[str, int]] = Counter()
    for line in log.splitlines():
        if line.startswith("{") and '"route"' in line:
            record = json.loads(line)
            counts[(record["route"], record["status"])] += 1
    return counts


def test_no_server_errors(seaweed: S3Endpoint, bucket: str, tmp_path: Path) -> None:
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps({"tok-all-0123456789": ["upload", "read", "admin"]}),
        "DG_EMBEDDED_S3": "false",
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "0",
        "DG_DEFAULT_BUCKET": bucket,
        "DG_MAX_UPLOAD_MB": "2",
    }
    with running_service(env) as svc:
        seed = httpx.post(
            svc.url + "/upload",
            params={"bucket": bucket, "key": "seed.zip"},
            content=b"PK" + bytes(range(256)) * 64,
            headers={"Authorization": "Bearer tok-all-0123456789"},
        )
        assert seed.status_code == 201, seed.text
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG.format(bucket=bucket))
        result = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                str(REPO / "openapi" / "openapi.json"),
                "--url",
                svc.url,
                "--checks",
                "not_a_server_error",
                "--header",
                "Authorization: Bearer tok-all-0123456789",
                "--max-examples",
                "25",
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                "1",
                "--workers",
                "2",
                "--request-timeout",
                "60",
                "--generation-database",
                "none",
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        log = svc.log_text()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in log, log[-4000:]
    counts = served(log)
    assert not [k for k in counts if k[1] >= 500], counts
    # The run reached the core, not only the validators.
    assert counts[("/upload", 201)] > 0, counts
    assert counts[("/buckets/{bucket}/stats", 200)] > 0, counts
    assert counts[("/buckets/{bucket}/objects/{key:path}", 200)] > 0, sorted(counts.items())
