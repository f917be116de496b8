"""Throttling as users meet it, against the AWS-shaped endpoint: a server asking for a longer
pause than `DG_S3_MAX_RETRY_WAIT_SECONDS` gets the service's 503 carrying the server's own
Retry-After, and the CLI's one-line message and exit status, at once (no waiting it out)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.aws_s3 import AwsS3
from tests.support.aws_s3_state import new_obj
from tests.support.service import running_service

pytestmark = pytest.mark.integration

GLIDER = Path(sys.executable).parent / "glider"
READ = {"Authorization": "Bearer tok-read-0123456789"}


@pytest.fixture
def server() -> Iterator[AwsS3]:
    with AwsS3() as running:
        running.state.buckets["slow"] = {"k.txt": new_obj(b"hello", {}, "text/plain")}
        yield running


def _env(server: AwsS3) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))}
    return base | {
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
        "AWS_REGION": "us-east-1",
        "DG_S3_MAX_ATTEMPTS": "3",
        "DG_S3_MAX_RETRY_WAIT_SECONDS": "5",
        "DG_CACHE_BACKEND": "memory",
        "DG_EMBEDDED_S3": "false",
    }


def test_cli_gives_up_in_one_line(server: AwsS3) -> None:
    server.throttle(100, retry_after=30)
    started = time.monotonic()
    done = subprocess.run(
        [str(GLIDER), "ls", "s3://slow/"],
        env=_env(server),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 6  # the CLI's status for an S3 that gave up (StorageUnavailable)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "throttling" in lines[0]
    assert "asked to wait 30 s" in lines[0]
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 20  # gave up, did not sit out 30 s


def test_service_503_carries_the_servers_retry_after(server: AwsS3) -> None:
    env = _env(server) | {
        "DG_API_TOKENS": json.dumps({"tok-read-0123456789": ["read"]}),
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "0",
    }
    with running_service(env) as svc, httpx.Client(base_url=svc.url, timeout=30) as client:
        assert client.get("/buckets/slow/objects/k.txt", headers=READ).status_code == 200
        server.throttle(100, retry_after=30)
        response = client.get("/buckets/slow/objects/k.txt", headers=READ)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "30"
        assert "Traceback" not in response.text
        server.throttle(0)
