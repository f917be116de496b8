"""The data-correctness faults of issue 16 (and 15.9) against the running service over HTTP,
on a real SeaweedFS: complete listings, non-ASCII and long keys, reserved segments, integrity
answers, and listing sizes that are never the stored size."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import httpx
import pytest

from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.service import ServiceProcess, running_service

pytestmark = pytest.mark.integration

TOKENS = {"tok-all-0123456789": ["upload", "read", "admin"]}
ALL = {"Authorization": "Bearer tok-all-0123456789"}


@pytest.fixture(scope="module")
def service(seaweed: S3Endpoint) -> Iterator[ServiceProcess]:
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps(TOKENS),
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "0",
        "DG_EMBEDDED_S3": "false",
    }
    with running_service(env) as svc:
        yield svc


@pytest.fixture
def http(service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=60.0, headers=ALL) as client:
        yield client


def upload(http: httpx.Client, bucket: str, key: str, data: bytes) -> httpx.Response:
    return http.post(
        "/upload", params={"bucket": bucket, "key": key}, content=data,
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip


def problem(response: httpx.Response, status: int, slug: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == f"urn:glider:problem:{slug}"
    assert "Traceback" not in response.text
    return str(body["detail"])


def listing(
    http: httpx.Client, bucket: str, prefix: str = "", max_keys: int = 1000
) -> list[dict[str, object]]:
    objects: list[dict[str, object]] = []
    params: dict[str, str | int] = {"prefix": prefix, "max_keys": max_keys}
    for _ in range(100):
        page = http.get(f"/buckets/{bucket}/objects", params=params)
        assert page.status_code == 200, page.text
        objects.extend(page.json()["objects"])
        token = page.json()["next_continuation_token"]
        if token is None:
            return objects
        params["continuation_token"] = token
    raise AssertionError("listing did not end")


def stats(http: httpx.Client, bucket: str, mode: str = "detailed") -> dict[str, int]:
    response = http.get(f"/buckets/{bucket}/stats", params={"mode": mode, "refresh": "true"})
    assert response.status_code == 200, response.text
    body: dict[str, int] = response.json()
    return body


def test_listing_is_complete_in_seaweeds_directory_order(http: httpx.Client, bucket: str) -> None:
    """16.1: SeaweedFS lists `lst/a/` before `lst/a-b/`; the listing used to stop at the first."""
    keys = ["lst/a/one.txt", "lst/a-b/two.txt", "lst/a.b/three.txt", "lst/a/four.txt"]
    for key in keys:
        assert upload(http, bucket, key, key.encode()).status_code == 201
    for max_keys in (1, 2, 1000):
        assert sorted(str(o["key"]) for o in listing(http, bucket, "lst/", max_keys)) == sorted(keys)
    assert stats(http, bucket, "quick")["object_count"] == len(keys)


def test_listing_size_is_the_original_or_null_never_the_stored_size(http: httpx.Client, bucket: str) -> None:
    """15.9: a 3 MB build stored as a tiny delta was listed with `"size": 26`."""
    build = random.Random(1).randbytes(3_000_000)
    assert upload(http, bucket, "rel/app-1.zip", build).json()["stored_as"] == "reference"
    second = upload(http, bucket, "rel/app-2.zip", build[:-10] + b"0123456789").json()
    assert second["stored_as"] == "delta"
    assert second["stored_size"] < 1000
    assert upload(http, bucket, "rel/notes.txt", b"notes").status_code == 201
    before = {o["key"]: (o["size"], o["stored_size"]) for o in listing(http, bucket, "rel/")}
    assert before["rel/notes.txt"] == (5, 5)
    for key in ("rel/app-1.zip", "rel/app-2.zip"):
        assert before[key][0] is None  # not known yet: null, not the delta's few bytes
    stats(http, bucket)  # a detailed computation records every delta's original size
    after = {o["key"]: o["size"] for o in listing(http, bucket, "rel/")}
    assert after == {"rel/app-1.zip": 3_000_000, "rel/app-2.zip": 3_000_000, "rel/notes.txt": 5}


def test_non_ascii_keys_round_trip(http: httpx.Client, bucket: str) -> None:
    """16.4: `key=bad/✓-é.txt` answered 400 (botocore: non-ASCII characters in S3 metadata)."""
    bodies = {"bad/✓-é.txt": b"check", "ünï/çødé ☃/app.zip": random.Random(2).randbytes(50_000)}
    for key, body in bodies.items():
        answer = upload(http, bucket, key, body)
        assert answer.status_code == 201, answer.text
        assert answer.json()["key"] == key
        got = http.get(f"/buckets/{bucket}/objects/{key}")
        assert (got.status_code, got.content) == (200, body)
        head = http.head(f"/buckets/{bucket}/objects/{key}")
        assert (head.status_code, head.headers["content-length"]) == (200, str(len(body)))
    assert sorted(str(o["key"]) for o in listing(http, bucket)) == sorted(bodies)
    assert stats(http, bucket)["object_count"] == 2


def test_too_long_a_stored_name_is_a_400_that_leaves_nothing(
    http: httpx.Client, bucket: str, s3_store: S3ObjectStore
) -> None:
    """16.5: the name fits, `<name>.delta` does not; the upload used to leave its reference.bin."""
    detail = problem(
        upload(http, bucket, "d/" + "k" * 250 + ".zip", b"PK\x03\x04 data"), 400, "invalid-input"
    )
    assert "too long" in detail
    assert list(s3_store.iter_objects(bucket)) == []


def test_reserved_names_are_refused_as_any_segment(
    http: httpx.Client, bucket: str, s3_store: S3ObjectStore
) -> None:
    """16.10: `P/reference.bin/x.txt` made reference.bin a directory and blocked every archive under P."""
    for key in ("P/reference.bin/x.txt", "P/.deltaglider/x.txt", ".deltaglider/x.txt"):
        problem(upload(http, bucket, key, b"x"), 409, "reserved-key")
    assert list(s3_store.iter_objects(bucket)) == []
    assert (
        upload(http, bucket, "P/app.zip", random.Random(3).randbytes(20_000)).json()["stored_as"]
        == "reference"
    )


def test_integrity_faults_are_502_for_head_and_get_alike(
    http: httpx.Client, bucket: str, s3_store: S3ObjectStore, service: ServiceProcess
) -> None:
    """16.8: a lost reference.bin answered 404; a `.delta` without metadata: HEAD 200, GET 502."""
    blob = random.Random(4).randbytes(80_000)
    upload(http, bucket, "rel/a.zip", blob)
    assert upload(http, bucket, "rel/b.zip", blob[:-5] + b"12345").json()["stored_as"] == "delta"
    s3_store.delete(bucket, "rel/reference.bin")  # data loss behind Glider's back
    assert http.post("/admin/clear-cache").status_code == 200  # or the cached copy would serve
    problem(http.get(f"/buckets/{bucket}/objects/rel/b.zip"), 502, "integrity-error")
    # The details go to the log, loudly: the lost reference and the delta that needed it.
    lost = [line for line in service.log_text().splitlines() if "rel/reference.bin is missing" in line]
    assert lost, service.log_tail()
    assert "ERROR" in lost[0]

    s3_store.put_bytes(bucket, "raw/x.zip.delta", b"not a delta")  # copied without its metadata
    problem(http.get(f"/buckets/{bucket}/objects/raw/x.zip"), 502, "integrity-error")
    assert http.head(f"/buckets/{bucket}/objects/raw/x.zip").status_code == 502
