"""Assemble the FastAPI application: routers, problem handlers, middleware, the OpenAPI document.

No I/O and no services here: `app.main.create_app` adds the lifespan that builds and injects
them, and `app.api.openapi_export` builds the same app to print its contract.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app import __version__
from app.api import admin, docs, health, metrics, objects, stats, status_page, uploads
from app.api.auth import TokenAuthority
from app.api.context import ApiConfig
from app.api.middleware import RequestContextMiddleware
from app.api.problems import install_problem_handlers
from app.api.schemas import PROBLEM_CONTENT
from app.observability.metrics import Metrics

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DESCRIPTION = (
    "Build-artifact storage on S3 with binary delta compression (DeltaGlider 6.x wire format) "
    "and fast bucket statistics. Authenticate with `Authorization: Bearer <token>`; errors are "
    "`application/problem+json` with a stable `type`."
)


def build_api(
    authority: TokenAuthority,
    config: ApiConfig,
    metrics_: Metrics,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Glider",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by app.api.docs instead: offline assets, and the same access rule for all three.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.authority = authority
    app.state.api_config = config
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics_)
    for module in (uploads, stats, objects, admin, health, metrics, status_page, docs):
        app.include_router(module.router)

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = _problems_only(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problems_only(document: dict[str, object]) -> dict[str, object]:
    """Error responses are only ever problem+json: drop the application/json twin FastAPI adds."""
    paths = document.get("paths", {})
    assert isinstance(paths, dict)
    for operations in paths.values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if PROBLEM_CONTENT in content:
                    content.pop("application/json", None)
    return document
