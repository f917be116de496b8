"""/docs, /redoc and /openapi.json: assets from the package (no CDN), and one access rule.

Rendering in a browser with the network fenced off is tests/integration/test_docs_chromium.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from app.container import assemble
from app.main import create_app
from app.observability.metrics import Metrics
from app.settings import AuthSettings, CacheSettings, SchedulerSettings, Secret, ServerSettings, Settings
from app.storage.memory import MemoryObjectStore
from tests.support.service import AppClient

TOKENS = {"tok-read-0123456789": ["read"], "tok-up-0123456789": ["upload"]}
DOCUMENTS = ("/docs", "/redoc", "/openapi.json")


def _client(open_docs: bool | None) -> AppClient:
    auth = AuthSettings(tokens=Secret(json.dumps(TOKENS)))
    if open_docs is not None:
        auth = AuthSettings(tokens=Secret(json.dumps(TOKENS)), open_docs=open_docs)
    settings = Settings(
        auth=auth,
        cache=CacheSettings(backend="memory", memory_size_mb=16),
        scheduler=SchedulerSettings(clear_cache_interval=0, warm_interval=0),
        server=ServerSettings(default_bucket="docs-bucket", embedded_s3=False),
    )
    store = MemoryObjectStore()
    return AppClient(create_app(settings, assemble(store, settings, Metrics())))


@pytest.fixture
def anonymous() -> Iterator[AppClient]:
    with _client(None) as client:
        yield client


def _referenced_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_load_every_asset_from_this_server(anonymous: AppClient, page: str) -> None:
    html = anonymous.get(page).text
    urls = _referenced_urls(html)
    assert urls, html
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "fonts.googleapis" not in html
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 0
        if url.endswith(".js"):
            assert response.headers["content-type"].startswith("text/javascript")
            assert len(response.content) > 500_000, "a real Swagger UI / ReDoc bundle"


def test_unknown_asset_is_a_problem_404(anonymous: AppClient) -> None:
    response = anonymous.get("/docs-assets/../../etc/passwd")
    assert response.status_code == 404
    response = anonymous.get("/docs-assets/nope.js")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_documents_are_open_by_default(anonymous: AppClient) -> None:
    for path in DOCUMENTS:
        assert anonymous.get(path).status_code == 200, path
    document = anonymous.get("/openapi.json").json()
    assert document["info"]["title"] == "Glider"
    assert "/upload" in document["paths"]
    # The documentation routes document nothing themselves.
    assert not {"/docs", "/redoc", "/openapi.json"} & set(document["paths"])


def test_closed_docs_need_the_read_scope() -> None:
    with _client(False) as client:
        for path in DOCUMENTS:
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers={"Authorization": "Bearer tok-up-0123456789"}).status_code == 403
            assert (
                client.get(path, headers={"Authorization": "Bearer tok-read-0123456789"}).status_code == 200
            )
        # The vendors' static bundles stay open, like the status page's /static/.
        assert client.get("/docs-assets/swagger-ui.css").status_code == 200
