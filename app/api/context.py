"""The edge configuration the routes read, and the thread limiter through which every blocking
call leaves the event loop (the services themselves come from `app.api.deps`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, TypeVarTuple, Unpack

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Request

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Edge-only knobs the routes read (plain values taken from Settings by create_app)."""

    stats_fresh_seconds: float
    warm_buckets: tuple[str, ...] = ()  # shown by the status page with the default bucket


async def run_blocking(request: Request, func: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """Run a blocking service call on the bounded worker pool (sized by DG_WORKER_THREADS)."""
    limiter = request.app.state.limiter
    assert isinstance(limiter, CapacityLimiter)
    return await anyio.to_thread.run_sync(func, *args, limiter=limiter)
