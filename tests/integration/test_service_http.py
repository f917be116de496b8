"""The service as users meet it: a real uvicorn process over HTTP, real SeaweedFS, real xdelta3."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator

import httpx
import pytest

from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint, unique_bucket_name
from tests.support.service import ServiceProcess, metric, running_service

pytestmark = pytest.mark.integration

TOKENS = {
    "tok-ci-0123456789": ["upload"],
    "tok-dash-0123456789": ["read"],
    "tok-ops-0123456789": ["read", "admin"],
    "tok-all-0123456789": ["upload", "read", "admin"],
}
CI = {"Authorization": "Bearer tok-ci-0123456789"}
DASH = {"Authorization": "Bearer tok-dash-0123456789"}
OPS = {"Authorization": "Bearer tok-ops-0123456789"}
ALL = {"Authorization": "Bearer tok-all-0123456789"}


def versions(count: int, size: int = 1 << 20, seed: int = 5) -> list[bytes]:
    """`count` versions of one artifact; each next one differs in a few scattered 4 KiB runs."""
    rng = random.Random(seed)
    current = bytearray(rng.randbytes(size))
    out = [bytes(current)]
    for _ in range(count - 1):
        for _ in range(4):
            at = rng.randrange(0, size - 4096)
            current[at : at + 4096] = rng.randbytes(4096)
        out.append(bytes(current))
    return out


def service_env(seaweed: S3Endpoint, **extra: str) -> dict[str, str]:
    return (
        seaweed.env()
        | {
            "DG_API_TOKENS": json.dumps(TOKENS),
            "DG_CLEAR_CACHE_INTERVAL": "0",
            "DG_WARM_INTERVAL": "0",
            "DG_MAX_UPLOAD_MB": "4",
            "DG_EMBEDDED_S3": "false",
        }
        | extra
    )


@pytest.fixture(scope="module")
def service(seaweed: S3Endpoint) -> Iterator[ServiceProcess]:
    with running_service(service_env(seaweed)) as svc:
        yield svc


@pytest.fixture
def http(service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=60.0) as client:
        yield client


def metrics_text(http: httpx.Client) -> str:
    response = http.get("/metrics")
    assert response.status_code == 200
    return response.text


def upload(http: httpx.Client, bucket: str, key: str, data: bytes, **headers: str) -> httpx.Response:
    return http.post(
        "/upload",
        params={"bucket": bucket, "key": key},
        content=data,
        headers=CI | {"Content-Type": "application/octet-stream"} | headers,
    )


def test_three_versions_round_trip_byte_exact(http: httpx.Client, bucket: str) -> None:
    blobs = versions(3)
    stored_as = []
    for index, blob in enumerate(blobs):
        if index == 1:  # the multipart form is the other supported body
            response = http.post(
                "/upload",
                params={"bucket": bucket, "key": f"app/build-{index}.zip"},
                files={"file": (f"build-{index}.zip", blob, "application/zip")},
                headers=CI,
            )
        else:
            response = upload(http, bucket, f"app/build-{index}.zip", blob,
                              **{"X-Content-SHA256": hashlib.sha256(blob).hexdigest()})  # fmt: skip
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["sha256"] == hashlib.sha256(blob).hexdigest()
        assert body["original_size"] == len(blob)
        stored_as.append(body["stored_as"])
    assert stored_as == ["reference", "delta", "delta"]

    for index, blob in enumerate(blobs):
        url = f"/buckets/{bucket}/objects/app/build-{index}.zip"
        got = http.get(url, headers=DASH)
        assert got.status_code == 200
        assert got.content == blob
        assert got.headers["content-length"] == str(len(blob))
        assert got.headers["x-content-sha256"] == hashlib.sha256(blob).hexdigest()
        head = http.head(url, headers=DASH)
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(blob))
        assert head.headers["etag"] == got.headers["etag"]
        assert http.get(url, headers=DASH | {"If-None-Match": got.headers["etag"]}).status_code == 304

    listing = http.get(f"/buckets/{bucket}/objects", params={"prefix": "app/"}, headers=DASH).json()
    assert sorted(o["key"] for o in listing["objects"]) == [f"app/build-{i}.zip" for i in range(3)]

    deleted = http.delete(f"/buckets/{bucket}/objects/app/build-2.zip", headers=OPS)
    assert deleted.status_code == 200, deleted.text
    assert http.head(f"/buckets/{bucket}/objects/app/build-2.zip", headers=DASH).status_code == 404


def test_stats_modes_report_miss_hit_refresh_in_metrics(http: httpx.Client, bucket: str) -> None:
    for index, blob in enumerate(versions(2, size=256 * 1024, seed=9)):
        assert upload(http, bucket, f"rel/v{index}.zip", blob).status_code == 201
    before = metrics_text(http)
    for mode in ("quick", "sampled", "detailed"):
        url = f"/buckets/{bucket}/stats"
        first = http.get(url, params={"mode": mode}, headers=DASH)
        assert first.status_code == 200, first.text
        assert first.json()["cache"]["result"] == "miss"
        assert first.json()["object_count"] == 2
        second = http.get(url, params={"mode": mode}, headers=DASH)
        assert second.json()["cache"]["result"] == "hit"
        assert second.headers["etag"] == first.headers["etag"]
        assert "max-age" in second.headers["cache-control"]
        assert "age" in second.headers
        not_modified = http.get(
            url, params={"mode": mode}, headers=DASH | {"If-None-Match": first.headers["etag"]}
        )
        assert not_modified.status_code == 304
        assert not_modified.content == b""
        refreshed = http.get(url, params={"mode": mode, "refresh": "true"}, headers=DASH)
        assert refreshed.json()["cache"]["result"] == "refresh"
    after = metrics_text(http)
    for mode in ("quick", "sampled", "detailed"):
        for result, expected in (("miss", 1), ("hit", 2), ("refresh", 1)):
            labels = {"mode": mode, "result": result}
            delta = metric(after, "dg_stats_requests_total", labels) - metric(
                before, "dg_stats_requests_total", labels
            )
            assert delta == expected, (mode, result, delta)
        computed = metric(after, "dg_stats_computations_total", {"mode": mode}) - metric(
            before, "dg_stats_computations_total", {"mode": mode}
        )
        assert computed == 2  # the miss and the refresh; hits compute nothing


def test_upload_invalidates_stats(http: httpx.Client, bucket: str) -> None:
    blobs = versions(2, size=128 * 1024, seed=11)
    assert upload(http, bucket, "x/a.zip", blobs[0]).status_code == 201
    assert http.get(f"/buckets/{bucket}/stats", headers=DASH).json()["object_count"] == 1
    assert upload(http, bucket, "x/b.zip", blobs[1]).status_code == 201
    after = http.get(f"/buckets/{bucket}/stats", headers=DASH).json()
    assert after["object_count"] == 2
    assert after["cache"]["result"] != "hit"


def test_clear_cache_is_counted(http: httpx.Client, bucket: str) -> None:
    blobs = versions(2, size=256 * 1024, seed=3)
    for index, blob in enumerate(blobs):
        assert upload(http, bucket, f"c/v{index}.zip", blob).status_code == 201
    before = metric(metrics_text(http), "dg_cache_clears_total", {"trigger": "api"})
    cleared = http.post("/admin/clear-cache", headers=OPS)
    assert cleared.status_code == 200
    assert cleared.json()["entries_freed"] >= 1
    assert cleared.json()["bytes_freed"] >= len(blobs[0])
    text = metrics_text(http)
    assert metric(text, "dg_cache_clears_total", {"trigger": "api"}) == before + 1
    assert metric(text, "dg_reference_cache_bytes") == 0


def test_ten_uploads_into_one_deltaspace_fetch_the_reference_at_most_once(
    http: httpx.Client, bucket: str
) -> None:
    before = metrics_text(http)
    for index, blob in enumerate(versions(10, size=512 * 1024, seed=21)):
        response = upload(http, bucket, f"many/build-{index}.zip", blob)
        assert response.status_code == 201
        assert response.json()["stored_as"] == ("reference" if index == 0 else "delta")
    after = metrics_text(http)
    miss = {"result": "miss"}
    assert (
        metric(after, "dg_reference_cache_requests_total", miss)
        - metric(before, "dg_reference_cache_requests_total", miss)
        <= 1
    )
    assert (
        metric(after, "dg_uploads_total", {"stored_as": "delta", "reason": "none"})
        - metric(before, "dg_uploads_total", {"stored_as": "delta", "reason": "none"})
        == 9
    )


def test_http_metrics_use_route_templates(http: httpx.Client, bucket: str) -> None:
    http.get(f"/buckets/{bucket}/stats", headers=DASH)
    text = metrics_text(http)
    assert metric(text, "dg_http_requests_total", {"route": "/buckets/{bucket}/stats", "status": "200"}) >= 1
    assert bucket not in text  # never a raw path (or a bucket) as a label


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:glider:problem:{slug}"
    assert "Traceback" not in response.text
    return body


def test_auth_failures(http: httpx.Client, bucket: str) -> None:
    url = f"/buckets/{bucket}/stats"
    problem(http.get(url), 401, "unauthorized")
    assert http.get(url).headers["www-authenticate"].startswith("Bearer")
    problem(http.get(url, headers={"Authorization": "Bearer tok-wrong-0123456789"}), 401, "unauthorized")
    problem(http.get(url, headers=CI), 403, "forbidden")
    problem(upload(http, bucket, "a.zip", b"x", Authorization="Bearer tok-dash-0123456789"), 403, "forbidden")
    problem(http.post("/admin/clear-cache", headers=DASH), 403, "forbidden")
    assert http.get("/metrics").status_code == 200
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True


def test_caller_errors(http: httpx.Client, bucket: str, s3_store: S3ObjectStore) -> None:
    problem(upload(http, "bad..name", "a.zip", b"abc"), 400, "invalid-input")
    problem(http.get(f"/buckets/{bucket}/stats", params={"mode": "exhaustive"}, headers=DASH), 422,
            "validation-error")  # fmt: skip
    problem(upload(http, bucket, "lib/reference.bin", b"abc"), 409, "reserved-key")
    problem(upload(http, bucket, "lib/x.zip.delta", b"abc"), 409, "reserved-key")
    problem(upload(http, unique_bucket_name("nobucket"), "a.zip", b"abc"), 404, "bucket-not-found")
    problem(http.get(f"/buckets/{bucket}/objects/none/such.zip", headers=DASH), 404, "object-not-found")
    problem(http.get(f"/buckets/{unique_bucket_name('nb')}/stats", headers=DASH), 404, "bucket-not-found")

    mismatch = upload(http, bucket, "sum/a.zip", b"hello", **{"X-Content-SHA256": "0" * 64})
    problem(mismatch, 400, "checksum-mismatch")
    assert [o.key for o in s3_store.iter_objects(bucket, "sum/")] == []  # nothing stored

    too_big = upload(http, bucket, "big/a.bin", b"\0" * (4 * 1024 * 1024 + 1))
    problem(too_big, 413, "payload-too-large")
    assert [o.key for o in s3_store.iter_objects(bucket, "big/")] == []


def test_storage_down_answers_503_with_retry_after(seaweed: S3Endpoint) -> None:
    env = service_env(seaweed, AWS_ENDPOINT_URL="http://127.0.0.1:9", DG_S3_MAX_ATTEMPTS="1",
                      DG_S3_CONNECT_TIMEOUT_SECONDS="0.5")  # fmt: skip
    with running_service(env) as svc, httpx.Client(base_url=svc.url, timeout=30) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        response = client.get("/buckets/anything/stats", headers=DASH)
        problem(response, 503, "storage-unavailable")
        assert int(response.headers["retry-after"]) > 0
        problem(upload(client, "anything", "a.zip", b"abc"), 503, "storage-unavailable")
