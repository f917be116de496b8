"""Routes end to end in-process: the real app, engine, codec and caches on an in-memory store."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.container import assemble
from app.errors import StorageUnavailable
from app.main import create_app
from app.observability.metrics import Metrics
from app.settings import (
    AuthSettings,
    CacheSettings,
    EngineSettings,
    SchedulerSettings,
    Secret,
    ServerSettings,
    Settings,
)
from app.storage.memory import MemoryObjectStore
from tests.support.service import AppClient

BUCKET = "unit-bucket"
TOKENS = {"tok-all-0123456789": ["upload", "read", "admin"], "tok-read-0123456789": ["read"]}
ALL = {"Authorization": "Bearer tok-all-0123456789"}


def _versions(count: int, size: int = 200_000, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    current = bytearray(rng.randbytes(size))
    out = [bytes(current)]
    for _ in range(count - 1):
        at = rng.randrange(0, size - 1000)
        current[at : at + 1000] = rng.randbytes(1000)
        out.append(bytes(current))
    return out


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def store() -> MemoryObjectStore:
    store = MemoryObjectStore()
    store.create_bucket(BUCKET)
    return store


@pytest.fixture
def settings(work_dir: Path) -> Settings:
    return Settings(
        auth=AuthSettings(tokens=Secret(json.dumps(TOKENS))),
        cache=CacheSettings(backend="memory", memory_size_mb=64),
        engine=EngineSettings(work_dir=work_dir),
        scheduler=SchedulerSettings(clear_cache_interval=0, warm_interval=0),
        server=ServerSettings(max_upload_mb=1, default_bucket=BUCKET, embedded_s3=False),
    )


@pytest.fixture
def client(settings: Settings, store: MemoryObjectStore) -> Iterator[AppClient]:
    services = assemble(store, settings, Metrics())
    with AppClient(create_app(settings, services), headers=ALL) as client:
        yield client


def _upload(client: AppClient, key: str, data: bytes, **headers: str) -> dict[str, object]:
    response = client.post("/upload", params={"bucket": BUCKET, "key": key}, content=data, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _leftovers(work_dir: Path) -> list[Path]:
    return [p for p in work_dir.rglob("*") if p.is_file()] if work_dir.exists() else []


@pytest.mark.smoke
def test_upload_download_head_list_delete(client: AppClient, work_dir: Path) -> None:
    first, second = _versions(2)
    assert _upload(client, "rel/app-1.zip", first)["stored_as"] == "reference"
    body = _upload(
        client, "rel/app-2.zip", second, **{"X-Content-SHA256": hashlib.sha256(second).hexdigest()}
    )
    assert body["stored_as"] == "delta"
    assert body["original_size"] == len(second)
    assert isinstance(body["stored_size"], int)
    assert body["stored_size"] < len(second) // 10

    got = client.get(f"/buckets/{BUCKET}/objects/rel/app-2.zip")
    assert got.status_code == 200
    assert got.content == second
    assert got.headers["content-length"] == str(len(second))
    assert got.headers["x-glider-stored-as"] == "delta"
    head = client.head(f"/buckets/{BUCKET}/objects/rel/app-2.zip")
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-length"] == str(len(second))

    listing = client.get(f"/buckets/{BUCKET}/objects", params={"prefix": "rel/"}).json()
    assert [o["key"] for o in listing["objects"]] == ["rel/app-1.zip", "rel/app-2.zip"]
    assert listing["next_continuation_token"] is None

    deleted = client.delete(f"/buckets/{BUCKET}/objects/rel/app-2.zip")
    assert deleted.status_code == 200
    assert "rel/app-2.zip.delta" in deleted.json()["deleted_keys"]
    assert client.get(f"/buckets/{BUCKET}/objects/rel/app-2.zip").status_code == 404
    assert _leftovers(work_dir) == []  # spooled uploads and rebuilt downloads are all gone


def test_listing_paginates(client: AppClient) -> None:
    for index in range(3):
        _upload(client, f"docs/n{index}.txt", f"note {index}".encode())
    first = client.get(f"/buckets/{BUCKET}/objects", params={"prefix": "docs/", "max_keys": 2}).json()
    assert len(first["objects"]) == 2
    token = first["next_continuation_token"]
    assert token
    rest = client.get(
        f"/buckets/{BUCKET}/objects", params={"prefix": "docs/", "max_keys": 2, "continuation_token": token}
    ).json()
    assert [o["key"] for o in rest["objects"]] == ["docs/n2.txt"]


def test_multipart_upload_streams_the_file_field(client: AppClient) -> None:
    data = _versions(1, size=300_000, seed=4)[0]
    response = client.post(
        "/upload",
        params={"bucket": BUCKET, "key": "mp/a.bin"},
        files={"file": ("a.bin", data, "application/octet-stream")},
        data={"comment": "ignored"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert client.get(f"/buckets/{BUCKET}/objects/mp/a.bin").content == data


def test_checksum_mismatch_stores_nothing(
    client: AppClient, store: MemoryObjectStore, work_dir: Path
) -> None:
    response = client.post(
        "/upload",
        params={"bucket": BUCKET, "key": "sum/a.zip"},
        content=b"hello",
        headers={"X-Content-SHA256": "ab" * 32},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:glider:problem:checksum-mismatch"
    assert list(store.iter_objects(BUCKET, "sum/")) == []
    assert _leftovers(work_dir) == []
    bad = client.post("/upload", params={"bucket": BUCKET, "key": "sum/a.zip"}, content=b"x",
                      headers={"X-Content-SHA256": "not-hex"})  # fmt: skip
    assert bad.status_code == 400


def test_size_limit_is_enforced_while_streaming(
    client: AppClient, store: MemoryObjectStore, work_dir: Path
) -> None:
    too_big = b"\0" * (1024 * 1024 + 1)

    async def body() -> object:  # no Content-Length: the limit must trip mid-stream
        for start in range(0, len(too_big), 65536):
            yield too_big[start : start + 65536]

    response = client.post("/upload", params={"bucket": BUCKET, "key": "big/a.bin"}, content=body())
    assert response.status_code == 413
    assert response.json()["type"] == "urn:glider:problem:payload-too-large"
    declared = client.post("/upload", params={"bucket": BUCKET, "key": "big/a.bin"}, content=too_big)
    assert declared.status_code == 413
    assert list(store.iter_objects(BUCKET, "big/")) == []
    assert _leftovers(work_dir) == []
    metrics = client.get("/metrics").text
    assert 'dg_upload_errors_total{error="PayloadTooLarge"} 2.0' in metrics  # streamed and declared


def test_upload_metrics(client: AppClient) -> None:
    first, second = _versions(2, seed=8)
    _upload(client, "m/a.zip", first)
    _upload(client, "m/b.zip", second)
    text = client.get("/metrics").text
    assert 'dg_uploads_total{reason="none",stored_as="reference"} 1.0' in text
    assert 'dg_uploads_total{reason="none",stored_as="delta"} 1.0' in text
    assert f'dg_upload_bytes_total{{kind="original"}} {float(len(first) + len(second))}' in text
    assert "dg_upload_ratio_count 2.0" in text


def test_stats_cache_headers_and_304(client: AppClient) -> None:
    for index, blob in enumerate(_versions(2, seed=3)):
        _upload(client, f"s/v{index}.zip", blob)
    url = f"/buckets/{BUCKET}/stats"
    first = client.get(url, params={"mode": "detailed"})
    assert first.status_code == 200
    body = first.json()
    assert body["object_count"] == 2
    assert body["delta_objects"] == 2
    assert body["mode"] == "detailed"
    assert body["cache"]["result"] == "miss"
    assert first.headers["etag"].startswith('W/"')
    assert first.headers["cache-control"].startswith("private, max-age=")
    again = client.get(url, params={"mode": "detailed"}, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    bypass = client.get(url, params={"mode": "quick", "use_cache": "false"})
    assert bypass.json()["cache"]["result"] == "bypass"
    assert client.get(url, params={"mode": "nope"}).status_code == 422


def test_clear_cache_endpoint(client: AppClient) -> None:
    for index, blob in enumerate(_versions(2, seed=5)):
        _upload(client, f"c/v{index}.zip", blob)
    response = client.post("/admin/clear-cache")
    assert response.status_code == 200
    assert response.json()["entries_freed"] >= 1
    assert 'dg_cache_clears_total{trigger="api"} 1.0' in client.get("/metrics").text
    read_only = client.post("/admin/clear-cache", headers={"Authorization": "Bearer tok-read-0123456789"})
    assert read_only.status_code == 403


def test_health_and_readiness(client: AppClient) -> None:
    assert client.get("/healthz", headers={}).json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"][0]["name"] == "s3"


def test_readiness_fails_when_s3_is_unusable(settings: Settings) -> None:
    class Unreachable(MemoryObjectStore):
        def head_bucket(self, bucket: str) -> None:
            raise StorageUnavailable("connection refused")

    services = assemble(Unreachable(), settings, Metrics())
    with AppClient(create_app(settings, services), headers=ALL) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False


def test_request_id_and_http_metrics(client: AppClient) -> None:
    response = client.get(f"/buckets/{BUCKET}/stats", headers={"X-Request-ID": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    text = client.get("/metrics").text
    assert 'route="/buckets/{bucket}/stats"' in text
    assert BUCKET not in text


@pytest.mark.parametrize(
    ("method", "url", "params"),
    [
        ("GET", "/buckets/Bad_Bucket/stats", {}),
        ("GET", "/buckets/Bad_Bucket/objects", {}),
        ("GET", "/buckets/Bad_Bucket/objects/a.zip", {}),
        ("DELETE", "/buckets/Bad_Bucket/objects/a.zip", {}),
        ("POST", "/upload", {"bucket": "Bad_Bucket", "key": "a.zip"}),
    ],
)
def test_bad_bucket_names_answer_400_from_the_one_rule(
    client: AppClient, method: str, url: str, params: dict[str, str]
) -> None:
    answer = client.request(method, url, params=params, content=b"x" if method == "POST" else None)
    assert answer.status_code == 400
    assert "invalid bucket name 'Bad_Bucket'" in answer.text


def test_download_answers_304_for_a_matching_etag(client: AppClient) -> None:
    _upload(client, "n/app.zip", _versions(1)[0])
    url = f"/buckets/{BUCKET}/objects/n/app.zip"
    etag = client.head(url).headers["etag"]
    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    changed = client.get(url, headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    assert changed.content == _versions(1)[0]


def test_too_long_a_stored_name_is_refused_before_the_body_is_read(
    client: AppClient, store: MemoryObjectStore, work_dir: Path
) -> None:
    """`<name>.delta` would pass the 255-byte segment limit: 400 without reading the body."""
    read: list[int] = []

    async def body() -> object:
        for _ in range(4):
            read.append(1)
            yield b"\0" * 65536

    key = "d/" + "k" * 250 + ".zip"
    response = client.post("/upload", params={"bucket": BUCKET, "key": key}, content=body())
    assert response.status_code == 400
    assert "too long" in response.json()["detail"]
    assert len(read) <= 1  # refused up front, not after spooling the whole file
    assert list(store.iter_objects(BUCKET)) == []
    assert _leftovers(work_dir) == []


def test_direct_uploads_say_why_in_the_answer_and_the_metric(client: AppClient) -> None:
    body = _upload(client, "why/notes.txt", b"plain text\n" * 10)
    assert (body["stored_as"], body["reason"], body["form"]) == ("direct", "not-a-candidate", "plain")
    assert _upload(client, "why/a.zip", _versions(1, seed=3)[0])["reason"] is None
    text = client.get("/metrics").text
    assert 'dg_uploads_total{reason="not-a-candidate",stored_as="direct"} 1.0' in text


def test_a_decompression_bomb_is_refused_with_413(client: AppClient) -> None:
    bomb = gzip.compress(b"\x00" * (400 << 20), compresslevel=9, mtime=0)  # ~400 KB, under the 1 MB limit
    response = client.post("/upload", params={"bucket": BUCKET, "key": "bomb/x.tar.gz"}, content=bomb)
    assert response.status_code == 413
    assert "decompression bomb" in response.json()["detail"]
    assert client.get(f"/buckets/{BUCKET}/objects", params={"prefix": "bomb/"}).json()["objects"] == []
