"""The container image, built from the Dockerfile and run with podman like an orchestrator runs it.

Read-only root, a tmpfs /tmp, a named volume for the reference cache, uid 10001, against the
session's SeaweedFS (and a real redis-server for two replicas) on the host network, everything on
127.0.0.1. Checked: probes and the Dockerfile's HEALTHCHECK, a byte-exact round trip through a
delta, /metrics, the cache on its volume, DG_HOST/DG_PORT, JSON-only logs, a clean SIGTERM exit,
and the image's size (printed with the build time).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import S3Endpoint
from tests.support.image import BuiltImage, Container, image_under_test, json_lines, podman, running
from tests.support.redis_server import RedisServer
from tests.support.service import metric

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "image-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# The whole image (the stand-in base is ~130 MB, like python:3.11-slim; Glider adds ~125 MB). A
# regression such as SeaweedFS's 150 MB binary back in the venv breaks it.
SIZE_BUDGET = 300 * 1024 * 1024


@pytest.fixture(scope="module")
def image(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    return image_under_test(request, tmp_path_factory)


@pytest.fixture
def s3_env(seaweed: S3Endpoint) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_ACCESS_KEY_ID": seaweed.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweed.secret_key,
        "AWS_REGION": seaweed.region,
        "DG_API_TOKENS": '{"%s": ["upload", "read", "admin"]}' % TOKEN,  # noqa: UP031 - JSON braces
    }


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


def builds() -> tuple[bytes, bytes]:
    """Two versions of an artifact that differ a little: the second is stored as a delta."""
    rng = random.Random(18)
    first = rng.randbytes(512 * 1024)
    second = bytearray(first)
    second[1000:1100] = rng.randbytes(100)
    return first, bytes(second)


def upload(url: str, bucket: str, key: str, body: bytes) -> dict[str, object]:
    response = httpx.post(f"{url}/upload", params={"bucket": bucket, "key": key}, content=body,
                          headers=AUTH, timeout=60)  # fmt: skip
    assert response.status_code in (200, 201), response.text
    payload: dict[str, object] = response.json()
    return payload


def download(url: str, bucket: str, key: str) -> bytes:
    response = httpx.get(f"{url}/buckets/{bucket}/objects/{key}", headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def stop_cleanly(container: Container) -> str:
    """SIGTERM ends the container with exit code 0 within 10 s; its log, every line JSON."""
    code, seconds = container.terminate(timeout=10)
    log = container.logs()
    assert code == 0, log[-3000:]
    assert seconds < 10
    messages = [str(line["msg"]) for line in json_lines(log)]
    assert "Application shutdown complete." in messages
    return log


def test_image_size_within_budget(image: BuiltImage) -> None:
    assert image.size_bytes < SIZE_BUDGET, f"{image.size_bytes / 1e6:.0f} MB"


def test_image_serves_read_only_as_10001(image: BuiltImage, s3_env: dict[str, str], bucket: str) -> None:
    first, second = builds()
    with running(image.tag, s3_env) as box:
        ready = httpx.get(box.url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert box.exec("python", "-c", "import os; print(os.getuid())").stdout.strip() == "10001"
        assert box.exec("touch", "/opt/glider/written").returncode != 0, "root filesystem is writable"
        # The Dockerfile's HEALTHCHECK, run once by podman inside the container.
        assert podman("healthcheck", "run", box.name, check=False).returncode == 0

        assert upload(box.url, bucket, "builds/app-1.0.zip", first)["stored_as"] == "reference"
        stored = upload(box.url, bucket, "builds/app-1.1.zip", second)
        assert stored["stored_as"] == "delta", stored
        assert download(box.url, bucket, "builds/app-1.1.zip") == second
        assert download(box.url, bucket, "builds/app-1.0.zip") == first

        metrics = httpx.get(box.url + "/metrics", timeout=10)
        assert metrics.status_code == 200
        assert metric(metrics.text, "dg_uploads_total") == 2
        assert metric(metrics.text, "dg_downloads_total") == 2

        # The reference this delta was made against lies on the cache volume, written by 10001.
        cached = [p for p in box.volume_dir().rglob("*") if p.is_file()]
        assert cached, "reference cache volume is empty"
        assert {p.stat().st_uid for p in cached} == {10001}
        assert sum(p.stat().st_size for p in cached) >= len(first) // 2

        log = stop_cleanly(box)
    # DG_HOST / DG_PORT decide where it listens, as for `glider serve`; uvicorn's lines are JSON too.
    messages = [str(line["msg"]) for line in json_lines(log)]
    assert f"Uvicorn running on http://127.0.0.1:{box.port} (Press CTRL+C to quit)" in messages
    assert any(m.startswith("POST /upload 20") for m in messages), messages
    assert not any("color_message" in line for line in json_lines(log))


def test_two_replicas_share_redis_and_s3(
    image: BuiltImage, s3_env: dict[str, str], bucket: str, redis_url: str
) -> None:
    first, second = builds()
    env = s3_env | {"DG_REDIS_URL": redis_url}
    with running(image.tag, env) as one, running(image.tag, env) as two:
        for box in (one, two):
            ready = httpx.get(box.url + "/readyz", timeout=10).json()
            checks = {c["name"]: c for c in ready["checks"]}
            assert checks["coordination"]["ok"], ready
            assert "redis" in checks["coordination"]["detail"].lower(), ready
        upload(one.url, bucket, "builds/app-1.0.zip", first)
        assert upload(two.url, bucket, "builds/app-1.1.zip", second)["stored_as"] == "delta"
        assert download(one.url, bucket, "builds/app-1.1.zip") == second
        assert download(two.url, bucket, "builds/app-1.0.zip") == first
        for box in (one, two):
            stop_cleanly(box)


def test_image_holds_no_build_secrets_nor_seaweedfs(image: BuiltImage) -> None:
    # The host's pip settings reach the build as secrets only; SeaweedFS is never started in a
    # container, so its binary is left out.
    paths = ("/etc/pip.conf", "/run/secrets/pip-ca.pem", "/opt/glider/bin/weed", "/opt/glider/bin/pip")
    probe = "import os, sys; print([p for p in sys.argv[1:] if os.path.exists(p)])"
    found = podman("run", "--rm", "--entrypoint", "python", image.tag, "-c", probe, *paths)
    assert found.stdout.strip() == "[]"
