"""Problem details speak the project's words: no server path, no endpoint, no library text; the
request id in the body finds the detail in the service log (real uvicorn, SeaweedFS, xdelta3)."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import httpx
import pytest

from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import free_ports
from tests.conftest import S3Endpoint
from tests.support.service import ServiceProcess, running_service

pytestmark = pytest.mark.integration

TOKEN = "errors-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIBRARY_WORDS = (
    "XD3_",
    "nothing to output",
    "botocore",
    "Could not connect",
    "Traceback",
    "urllib3",
    "Errno",
)


def error_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    return (
        base
        | {
            "DG_API_TOKENS": json.dumps({TOKEN: ["upload", "read", "admin"]}),
            "DG_CLEAR_CACHE_INTERVAL": "0",
            "DG_WARM_INTERVAL": "0",
            "DG_EMBEDDED_S3": "false",
        }
        | extra
    )


def two_versions(size: int = 256 * 1024) -> list[bytes]:
    rng = random.Random(16)
    first = bytearray(rng.randbytes(size))
    second = bytearray(first)
    second[1000:1100] = rng.randbytes(100)
    return [bytes(first), bytes(second)]


def upload(service: ServiceProcess, bucket: str, key: str, data: bytes) -> httpx.Response:
    return httpx.post(
        service.url + "/upload", params={"bucket": bucket, "key": key}, content=data, headers=AUTH, timeout=60
    )


def assert_clean(answer: httpx.Response, rid: str, service: ServiceProcess, *, hidden: list[str]) -> None:
    """The body names the failure and the request id only; the log has the hidden detail."""
    text = answer.text
    body = answer.json()
    assert body["request_id"] == rid == answer.headers["x-request-id"]
    for word in (*LIBRARY_WORDS, "/tmp/", "glider-", "http://", str(Path.home()), *hidden):
        assert word not in text, f"{word!r} leaked into {text}"
    log_lines = [json.loads(line) for line in service.log_text().splitlines() if line.startswith("{")]
    mine = " ".join(line["msg"] for line in log_lines if line.get("request_id") == rid)
    assert mine, f"no log line carries request id {rid}"
    for word in hidden:
        assert word in mine, f"{word!r} missing from the log lines of {rid}: {mine}"


def test_corrupt_delta_answer_hides_the_scratch_path_and_codec_output(
    seaweed: S3Endpoint, bucket: str, s3_store: S3ObjectStore
) -> None:
    with running_service(error_env(seaweed.env())) as service:
        first, second = two_versions()
        assert upload(service, bucket, "app/build-0.zip", first).json()["stored_as"] == "reference"
        assert upload(service, bucket, "app/build-1.zip", second).json()["stored_as"] == "delta"
        head = s3_store.head(bucket, "app/build-1.zip.delta")
        delta = s3_store.get_bytes(bucket, "app/build-1.zip.delta")
        s3_store.put_bytes(bucket, "app/build-1.zip.delta", delta[:20], dict(head.metadata))  # truncated

        rid = "probe-corrupt-delta"
        answer = httpx.get(
            f"{service.url}/buckets/{bucket}/objects/app/build-1.zip",
            headers=AUTH | {"X-Request-ID": rid},
            timeout=60,
        )
        assert answer.status_code == 502
        assert answer.json()["type"] == "urn:glider:problem:integrity-error"
        # Our sentence stays; the codec's own output and the scratch file's path go to the log.
        assert answer.json()["detail"] == "xdelta3 decode failed, the delta is corrupt or truncated"
        work = str(Path(service.log_path).parent / "work")
        assert_clean(answer, rid, service, hidden=["nothing to output", work])


def test_codec_failure_answer_hides_the_codec_message(
    seaweed: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    # An encode that outlives its deadline, whatever the machine's speed: `xdelta3` on the
    # service's PATH hangs on encodes (decodes and probes run the real binary), and the real
    # watchdog kills it.
    real = shutil.which("xdelta3")
    assert real is not None
    slow = tmp_path / "bin" / "xdelta3"
    slow.parent.mkdir()
    slow.write_text(f'#!/bin/sh\ncase " $* " in *" -e "*) exec sleep 60;; esac\nexec {real} "$@"\n')
    slow.chmod(0o755)
    path = f"{slow.parent}{os.pathsep}{os.environ['PATH']}"
    env = error_env(seaweed.env(), DG_CODEC_TIMEOUT_SECONDS="1", PATH=path)
    with running_service(env) as service:
        first, second = two_versions()
        assert upload(service, bucket, "app/build-0.zip", first).status_code == 201
        rid = "probe-codec-failure"
        answer = httpx.post(
            service.url + "/upload",
            params={"bucket": bucket, "key": "app/build-1.zip"},
            content=second,
            headers=AUTH | {"X-Request-ID": rid},
            timeout=60,
        )
        assert answer.status_code == 500, answer.text
        assert answer.json()["type"] == "urn:glider:problem:codec-error"
        assert_clean(answer, rid, service, hidden=["xdelta3 encode timed out"])


def test_storage_down_answers_hide_the_endpoint_and_client_library(seaweed: S3Endpoint) -> None:
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens there
    base = seaweed.env() | {"AWS_ENDPOINT_URL": dead}
    with running_service(error_env(base, DG_S3_MAX_ATTEMPTS="1")) as service:
        rid = "probe-storage-down"
        answer = httpx.get(
            f"{service.url}/buckets/some-bucket/objects/a.txt",
            headers=AUTH | {"X-Request-ID": rid},
            timeout=60,
        )
        assert answer.status_code == 503
        assert answer.json()["type"] == "urn:glider:problem:storage-unavailable"
        assert_clean(answer, rid, service, hidden=[dead])

        ready = httpx.get(service.url + "/readyz", timeout=60)  # unauthenticated by default
        assert ready.status_code == 503
        assert dead not in ready.text
        assert "127.0.0.1" not in ready.text
        assert not any(word in ready.text for word in LIBRARY_WORDS)
        assert dead in service.log_text()


def test_library_text_is_cut_from_client_errors(seaweed: S3Endpoint, bucket: str) -> None:
    with running_service(error_env(seaweed.env())) as service:
        rid = "probe-multipart"
        answer = httpx.post(
            service.url + "/upload",
            params={"bucket": bucket, "key": "a.bin"},
            content=b"--x\r\n",
            headers=AUTH
            | {"X-Request-ID": rid, "Content-Type": "multipart/form-data; boundary=" + "b" * 300},
            timeout=60,
        )
        assert answer.status_code == 400
        assert answer.json()["detail"] == "bad multipart boundary"
        log_lines = [json.loads(line) for line in service.log_text().splitlines() if line.startswith("{")]
        assert any(
            line.get("request_id") == rid and "Boundary length 300" in line["msg"] for line in log_lines
        ), service.log_tail()
