"""The application factory: `uvicorn --factory app.main:create_app`.

Nothing happens at import time. `create_app()` reads Settings from the environment; tests pass
their own `settings` and, for fast route tests, ready-made `services` (then the caller owns them
and the lifespan does not close them). The lifespan builds the services (`app.container`),
starts the scheduler, and tears both down on shutdown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import FastAPI

from app.api.application import build_api
from app.api.auth import TokenAuthority
from app.api.context import ApiConfig
from app.container import build_services
from app.observability.logging import configure_logging
from app.observability.metrics import Metrics
from app.scheduler import build_scheduler
from app.services.bundle import Services
from app.settings import Settings

log = logging.getLogger(__name__)


def authority_from(settings: Settings) -> TokenAuthority:
    auth = settings.auth
    authority = TokenAuthority.from_tokens(
        auth.token_scopes(),
        enabled=auth.enabled,
        open_metrics=auth.open_metrics,
        open_health=auth.open_health,
        open_docs=auth.open_docs,
    )
    if authority.enabled and not authority.entries:
        log.warning("auth is on but no tokens are configured (DG_API_TOKENS): protected endpoints answer 401")
    return authority


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    if settings is None:
        settings = Settings()
        configure_logging(settings.log.level, settings.log.json_format)
    metrics = services.metrics if services is not None else Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.limiter = CapacityLimiter(settings.server.worker_threads)
        async with contextlib.AsyncExitStack() as stack:
            ready = services
            if ready is None:
                ready = await anyio.to_thread.run_sync(build_services, settings, metrics)
                stack.push_async_callback(anyio.to_thread.run_sync, ready.resources.close)
            app.state.services = ready
            scheduler = build_scheduler(settings.scheduler, ready)
            scheduler.start()
            stack.callback(scheduler.shutdown, wait=False)
            log.info("glider ready (%d scheduled jobs)", len(scheduler.get_jobs()))
            yield

    api_config = ApiConfig(
        stats_fresh_seconds=settings.stats.fresh_seconds, warm_buckets=settings.scheduler.warm_buckets
    )
    return build_api(authority_from(settings), api_config, metrics, lifespan)
