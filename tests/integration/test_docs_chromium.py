"""Swagger UI (/docs) and ReDoc (/redoc) render the API's operations in headless Chromium with
every non-loopback host blocked (tests/support/chromium.py): nothing may come from a CDN."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import S3Endpoint
from tests.support.chromium import Node, parse_dom, run_chromium
from tests.support.service import ServiceProcess, running_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(seaweed: S3Endpoint) -> Iterator[ServiceProcess]:
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps({"tok-docs-read-0123456789": ["read"]}),
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "0",
    }
    with running_service(env) as svc:
        yield svc


@pytest.fixture(scope="module")
def operations(service: ServiceProcess) -> dict[str, set[str]]:
    """(path -> methods) of the served OpenAPI document."""
    document = httpx.get(service.url + "/openapi.json", timeout=30).json()
    return {path: {m.upper() for m in ops} for path, ops in document["paths"].items()}


def _classes(node: Node) -> set[str]:
    return set(node.attrs.get("class", "").split())


def test_swagger_ui_renders_every_operation_offline(
    service: ServiceProcess, operations: dict[str, set[str]]
) -> None:
    dom = parse_dom(run_chromium(service.url + "/docs", "--dump-dom"))
    blocks = dom.find_all(lambda n: "opblock" in _classes(n) and n.tag == "div")
    rendered: dict[str, set[str]] = {}
    for block in blocks:
        [path] = block.find_all(lambda n: "data-path" in n.attrs)
        [method] = block.find_all(lambda n: "opblock-summary-method" in _classes(n))
        rendered.setdefault(path.attrs["data-path"], set()).add(method.text)
    assert rendered == operations
    titles = dom.find_all(lambda n: "title" in _classes(n))
    assert any(t.text.startswith("Glider") for t in titles), [t.text for t in titles]


def test_redoc_renders_the_operations_offline(service: ServiceProcess) -> None:
    html = run_chromium(service.url + "/redoc", "--dump-dom")
    dom = parse_dom(html)
    text = " ".join(dom.text.split())
    document = httpx.get(service.url + "/openapi.json", timeout=30).json()
    summaries = [op["summary"] for ops in document["paths"].values() for op in ops.values()]
    assert summaries
    missing = [s for s in summaries if s not in text]
    assert not missing, missing
