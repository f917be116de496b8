"""`glider stats --sampled` says what the API says: `Figures: exact` only when `exact` is true."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint, unique_bucket_name
from tests.support.service import REPO, ServiceProcess, running_service

pytestmark = pytest.mark.integration

GLIDER = Path(sys.executable).parent / "glider"
TOKEN = "tok-stats-agree-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def service(seaweed: S3Endpoint) -> Iterator[ServiceProcess]:
    env = seaweed.env() | {"DG_API_TOKENS": json.dumps({TOKEN: ["upload", "read"]}),
                           "DG_WARM_INTERVAL": "0", "DG_CLEAR_CACHE_INTERVAL": "0"}  # fmt: skip
    with running_service(env) as svc:
        yield svc


def _upload_versions(service: ServiceProcess, bucket: str, prefix: str, count: int) -> None:
    rng = random.Random(count)
    data = bytearray(rng.randbytes(100_000))
    for index in range(count):
        data[index * 64 : index * 64 + 32] = rng.randbytes(32)
        where = {"bucket": bucket, "key": f"{prefix}/v{index}.zip"}
        answer = httpx.post(
            service.url + "/upload", params=where, content=bytes(data), headers=AUTH, timeout=60
        )
        assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(("versions", "exact"), [(4, False), (1, True)])
def test_sampled_text_agrees_with_the_api(
    service: ServiceProcess, seaweed: S3Endpoint, s3_store: S3ObjectStore, versions: int, exact: bool
) -> None:
    bucket = unique_bucket_name("agree")
    s3_store.create_bucket(bucket)
    _upload_versions(service, bucket, "app", versions)
    api = httpx.get(f"{service.url}/buckets/{bucket}/stats", params={"mode": "sampled"}, headers=AUTH,
                    timeout=60).json()  # fmt: skip
    assert api["exact"] is exact
    for extra in ([], ["--server", service.url, "--token", TOKEN]):
        run = subprocess.run([str(GLIDER), "stats", bucket, "--sampled", *extra], cwd=REPO, env=seaweed.env(),
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert run.returncode == 0, run.stderr
        [figures] = [line for line in run.stdout.splitlines() if line.startswith("Figures:")]
        assert figures.split(None, 1)[1].startswith("exact" if exact else "approximate"), figures
        assert f"Savings:              {api['average_compression_ratio']:.1%}" in run.stdout
