"""Picks the coordination backend from plain settings values (the container calls this)."""

from __future__ import annotations

from app.coordination.base import CoordinationBackend
from app.coordination.inprocess import InProcessBackend
from app.coordination.redis import RedisBackend
from app.coordination.resilient import ResilientBackend
from app.observability.metrics import Metrics


def open_backend(
    redis_url: str | None,
    *,
    key_prefix: str = "glider:",
    socket_timeout_seconds: float = 2.0,
    probe_seconds: float = 2.0,
    metrics: Metrics | None = None,
) -> CoordinationBackend:
    """In-process when `redis_url` is empty; otherwise Redis with in-process fallback.

    Opening does no I/O: an unreachable Redis shows up as a degradation on first use.
    """
    if not redis_url:
        return InProcessBackend()
    primary = RedisBackend(redis_url, key_prefix=key_prefix, socket_timeout_seconds=socket_timeout_seconds)
    return ResilientBackend(primary, InProcessBackend(), metrics=metrics, probe_seconds=probe_seconds)
