"""The status page at `/`, loaded by headless Debian Chromium from a real uvicorn Glider.

The service runs against the session SeaweedFS with a `read` and an `upload` token, a warm-stats
job over one real bucket, and a default bucket that does not exist (a realistic misconfiguration
the page must show, not hide). After real uploads, Chromium loads the page with the read token in
the URL fragment; every figure in the rendered DOM (raw numbers in data-value, human text in the
cell) must equal what the API returns for the same state.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint, unique_bucket_name
from tests.support.chromium import Node, parse_dom, run_chromium
from tests.support.service import ServiceProcess, running_service, wait_until

pytestmark = pytest.mark.integration

READ_TOKEN = "tok-status-read-0123456789"  # throwaway tokens of a loopback-only test server
UPLOAD_TOKEN = "tok-status-upload"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
PLOT_HEIGHT = 220  # status.js: height of the chart's plot area for the largest value


# --- the formatting rules of status.js, restated ------------------------------------------------


def fixed(value: float, places: int) -> str:
    """JavaScript's Number.prototype.toFixed: the exact binary value, ties rounded up."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def human_bytes(n: int) -> str:
    sign, value = ("-" if n < 0 else ""), float(abs(n))
    if value < 1024:
        return f"{sign}{abs(n)} B"
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{sign}{fixed(value, 2)} {units[unit]}"


def human_percent(part: int, whole: int) -> str:
    return f"{fixed(100 * part / whole, 1)} %" if whole > 0 else "\u2013"  # en dash


def human_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def human_age(seconds: float) -> str:
    s = max(0, int(Decimal(seconds).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {(s % 3600) // 60} min"


# --- fixtures -----------------------------------------------------------------------------------


def artifact_versions(count: int, size: int = 256 * 1024, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    current = bytearray(rng.randbytes(size))
    out = [bytes(current)]
    for _ in range(count - 1):
        at = rng.randrange(0, size - 2048)
        current[at : at + 2048] = rng.randbytes(2048)
        out.append(bytes(current))
    return out


def upload(http: httpx.Client, bucket: str, key: str, data: bytes) -> None:
    response = http.post("/upload", params={"bucket": bucket, "key": key}, content=data,
                         headers={"Authorization": f"Bearer {UPLOAD_TOKEN}"})  # fmt: skip
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def buckets(s3_store: S3ObjectStore) -> tuple[str, str]:
    """(a real bucket with artifacts, a default bucket name that does not exist)."""
    real = unique_bucket_name("status")
    s3_store.create_bucket(real)
    return real, unique_bucket_name("missing")


@pytest.fixture(scope="module")
def service(seaweed: S3Endpoint, buckets: tuple[str, str]) -> Iterator[ServiceProcess]:
    real, missing = buckets
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps({READ_TOKEN: ["read"], UPLOAD_TOKEN: ["upload"]}),
        "DG_EMBEDDED_S3": "false",
        "DG_DEFAULT_BUCKET": missing,
        "DG_WARM_BUCKETS": real,
        "DG_WARM_MODES": "quick",
        "DG_WARM_INTERVAL": "3600",  # runs once a second after start, then not again in the test
        "DG_CLEAR_CACHE_INTERVAL": "0",
    }
    with running_service(env) as svc:
        with httpx.Client(base_url=svc.url, timeout=60.0) as http:
            for index, blob in enumerate(artifact_versions(3)):
                upload(http, real, f"app/app-{index}.zip", blob)
            upload(http, real, "docs/NOTES.txt", b"release notes\n" * 100)

            def warmed() -> bool:
                jobs = http.get("/status", headers=READ).json()["jobs"]
                return any(j["job"] == "warm_stats" and j["successes"] >= 1 for j in jobs)

            wait_until(warmed, timeout=30, what="the warm_stats job's first run")
        yield svc


@pytest.fixture
def http(service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=60.0, headers=READ) as client:
        yield client


def stats_of(http: httpx.Client, bucket: str) -> dict[str, Any]:
    response = http.get(f"/buckets/{bucket}/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def load_page(service: ServiceProcess, fragment: str = "") -> Node:
    html = run_chromium(f"{service.url}/{fragment}", "--dump-dom")
    return parse_dom(html)


def body_state(dom: Node) -> str:
    return dom.find(lambda n: n.tag == "body").attrs["data-state"]


# --- tests --------------------------------------------------------------------------------------


def test_page_and_assets_are_served_open_with_a_strict_policy(service: ServiceProcess) -> None:
    with httpx.Client(base_url=service.url, timeout=30.0) as anonymous:
        page = anonymous.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "connect-src 'self'" in policy
        assert "unsafe-inline" not in policy
        for asset, kind in (("/static/status.js", "text/javascript"), ("/static/status.css", "text/css")):
            response = anonymous.get(asset)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith(kind)
        # The data behind it is not open.
        assert anonymous.get("/status").status_code == 401


def test_figures_in_the_page_match_the_api(
    service: ServiceProcess, http: httpx.Client, buckets: tuple[str, str]
) -> None:
    real, missing = buckets
    before = stats_of(http, real)  # computes if needed; the page's own request then hits the cache
    dom = load_page(service, f"#token={READ_TOKEN}")
    after = stats_of(http, real)
    status = http.get("/status").json()

    assert body_state(dom) == "ready"
    assert READ_TOKEN not in "".join(dom.parts), "the token must not be rendered"
    figure_keys = ("object_count", "total_size", "compressed_size", "space_saved", "delta_objects",
                   "direct_objects", "exact", "mode")  # fmt: skip
    assert {k: before[k] for k in figure_keys} == {k: after[k] for k in figure_keys}, "state moved"
    assert before["object_count"] == 4
    assert before["delta_objects"] == 3
    assert before["compressed_size"] < before["total_size"] / 2

    # Bucket table: raw numbers and human text.
    table = dom.by_id("buckets")
    rows = {
        n.attrs["data-bucket"]: n
        for n in table.find_all(lambda n: n.tag == "tr" and "data-bucket" in n.attrs)
    }
    assert list(rows) == status["buckets"] == [missing, real]
    cells = rows[real].fields()
    for name in ("object_count", "delta_objects", "direct_objects"):
        assert int(cells[name].attrs["data-value"]) == after[name]
        assert cells[name].text == f"{after[name]:,}"
    for name in ("total_size", "compressed_size", "space_saved"):
        assert int(cells[name].attrs["data-value"]) == after[name]
        assert cells[name].text == human_bytes(after[name])
        assert cells[name].attrs["title"] == f"{after[name]} bytes"
    assert cells["savings"].text == human_percent(after["space_saved"], after["total_size"])
    assert cells["exact"].attrs["data-value"] == str(after["exact"]).lower()
    assert cells["exact"].text == f"{after['mode']}, {'exact' if after['exact'] else 'estimated'}"

    # The default bucket does not exist: shown as the API's problem, not as zeros.
    assert rows[missing].attrs["data-error"] == "404"
    problem = http.get(f"/buckets/{missing}/stats").json()
    assert rows[missing].fields()["error"].text == f"{problem['title']}: {problem['detail']}"

    # Cache state: the page read the document the API serves.
    cache = dom.by_id("cache").find(lambda n: n.tag == "tr" and n.attrs.get("data-bucket") == real).fields()
    assert after["cache"]["result"] == "hit"
    assert cache["cache_result"].attrs["data-value"] == "hit"
    assert cache["computed_at"].attrs["data-value"] == after["cache"]["computed_at"]
    assert cache["computed_at"].text == human_time(after["cache"]["computed_at"])
    age = float(cache["age_seconds"].attrs["data-value"])
    assert before["cache"]["age_seconds"] <= age <= after["cache"]["age_seconds"]
    assert cache["age_seconds"].text == human_age(age)

    # Chart: one original and one stored bar for the real bucket, heights on a shared scale.
    bars = {
        n.attrs["data-kind"]: n
        for n in dom.by_id("chart").find_all(lambda n: n.tag == "rect" and n.attrs.get("data-bucket") == real)
    }
    assert set(bars) == {"original", "stored"}
    assert int(bars["original"].attrs["data-value"]) == after["total_size"]
    assert int(bars["stored"].attrs["data-value"]) == after["compressed_size"]
    scale_top = float(dom.by_id("chart").find(lambda n: n.tag == "svg").attrs["data-max"])
    assert after["total_size"] <= scale_top < 2 * after["total_size"]
    for kind, value in (("original", after["total_size"]), ("stored", after["compressed_size"])):
        assert float(bars[kind].attrs["height"]) == pytest.approx(PLOT_HEIGHT * value / scale_top)

    # Job history and reference cache: what GET /status reports.
    [warm] = [j for j in status["jobs"] if j["job"] == "warm_stats"]
    job = dom.by_id("jobs").find(lambda n: n.attrs.get("data-job") == "warm_stats").fields()
    assert int(job["successes"].attrs["data-value"]) == warm["successes"] >= 1
    assert int(job["failures"].attrs["data-value"]) == warm["failures"] == 0
    assert job["last_success_at"].attrs["data-value"] == warm["last_success_at"]
    assert job["last_success_at"].text == human_time(warm["last_success_at"])
    ref = dom.by_id("refcache").fields()
    for name in ("entries", "bytes", "hits", "misses"):
        assert int(ref[name].attrs["data-value"]) == status["reference_cache"][name]
    assert ref["bytes"].text == human_bytes(status["reference_cache"]["bytes"])


def test_without_a_token_the_page_asks_for_one(service: ServiceProcess) -> None:
    dom = load_page(service)
    assert body_state(dom) == "auth"
    assert "hidden" not in dom.by_id("auth").attrs
    assert "hidden" in dom.by_id("content").attrs
    assert dom.by_id("buckets").fields() == {}

    wrong = load_page(service, "#token=not-a-token")
    assert body_state(wrong) == "auth"
    assert wrong.by_id("auth-error").text == "Unauthorized: the bearer token is not valid"


def test_screenshot_renders(service: ServiceProcess, tmp_path: Path) -> None:
    shot = tmp_path / "status.png"
    run_chromium(f"{service.url}/#token={READ_TOKEN}", f"--screenshot={shot}", "--window-size=1280,1100")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1100)
    assert len(data) > 20_000, "a blank page compresses to a few KB"
