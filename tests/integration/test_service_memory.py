"""Bodies stream through the service: a 192 MiB upload and download barely move its peak RSS."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.domain.sizes import MiB
from tests.conftest import S3Endpoint
from tests.support.service import running_service

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIZE = 192 * MiB
TOKEN = {"Authorization": "Bearer tok-0123456789abcdef"}


def peak_rss(pid: int) -> int:
    """VmHWM of the service process (its high-water resident set), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_large_upload_and_download_stay_streamed(seaweed: S3Endpoint, bucket: str) -> None:
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps({"tok-0123456789abcdef": ["upload", "read"]}),
        "DG_EMBEDDED_S3": "false",
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_MAX_UPLOAD_MB": "512",
        "DG_S3_MULTIPART_CHUNK_MB": "8",
    }
    digest = hashlib.sha256()

    def body() -> Iterator[bytes]:  # chunked transfer: no Content-Length, nothing buffered here
        block = os.urandom(MiB)
        for index in range(SIZE // MiB):
            piece = index.to_bytes(8, "big") + block[8:]
            digest.update(piece)
            yield piece

    with running_service(env) as svc, httpx.Client(base_url=svc.url, timeout=300) as client:
        pid = svc.pid
        before = peak_rss(pid)
        response = client.post(
            "/upload", params={"bucket": bucket, "key": "big/blob.bin"}, content=body(), headers=TOKEN
        )
        assert response.status_code == 201, response.text
        assert response.json()["sha256"] == digest.hexdigest()
        after_upload = peak_rss(pid)

        check = hashlib.sha256()
        received = 0
        with client.stream("GET", f"/buckets/{bucket}/objects/big/blob.bin", headers=TOKEN) as got:
            assert got.status_code == 200
            assert got.headers["content-length"] == str(SIZE)
            for chunk in got.iter_bytes():
                check.update(chunk)
                received += len(chunk)
        assert received == SIZE
        assert check.hexdigest() == digest.hexdigest()
        after_download = peak_rss(pid)
    # S3 multipart parts (8 MiB x 4 in flight) and write blocks are the only buffers.
    assert after_upload - before < 96 * MiB, (before, after_upload)
    assert after_download - before < 96 * MiB, (before, after_download)
