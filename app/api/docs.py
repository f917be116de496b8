"""The API's own documentation: `/openapi.json`, Swagger UI at `/docs` and ReDoc at `/redoc`.

FastAPI's defaults load Swagger UI and ReDoc from a CDN, which leaves a blank page on the offline
networks builds often run in. Their JavaScript and CSS come from the `fastapi-offline` package
instead (a maintained wheel shipping both bundles) and are served from `/docs-assets/`.

Access: like `/metrics` and `/healthz`, the three documents answer without a token unless
`DG_AUTH_OPEN_DOCS=false`, which makes them need the `read` scope. The assets under
`/docs-assets/` are the vendors' static bundles, open like the status page's `/static/`.
"""

from __future__ import annotations

import functools
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.api.auth import Scope, is_docs_open, require
from app.errors import NotFound

router = APIRouter(include_in_schema=False)
_guard = require(Scope.READ, open_when=is_docs_open)

ASSETS_PATH = "/docs-assets"
_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


def _assets_dir() -> Traversable:
    return resources.files("fastapi_offline") / "static"


@functools.cache
def _asset(name: str) -> bytes:
    return (_assets_dir() / name).read_bytes()


@router.get("/openapi.json", dependencies=[_guard])
async def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=[_guard])
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
    )


@router.get("/redoc", dependencies=[_guard])
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSETS_PATH + "/{name}")
async def docs_asset(name: str) -> Response:
    media_type = _ASSET_TYPES.get(name)
    if media_type is None:
        raise NotFound(f"no documentation asset {name!r}")
    return Response(
        _asset(name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
