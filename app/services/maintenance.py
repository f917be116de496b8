"""Operator actions: clearing the reference caches (from the API or the scheduler)."""

from __future__ import annotations

import enum
import logging

from app.caches.base import ClearResult
from app.engine.engine import DeltaEngine
from app.observability.metrics import Metrics

log = logging.getLogger(__name__)


class ClearTrigger(enum.StrEnum):
    API = "api"
    SCHEDULE = "schedule"


class MaintenanceService:
    def __init__(self, engine: DeltaEngine, metrics: Metrics) -> None:
        self.engine = engine
        self.metrics = metrics

    def clear_cache(self, trigger: ClearTrigger) -> ClearResult:
        """Drop every reference not in use right now; count it in `dg_cache_clears_total{trigger}`.

        Safe while uploads and downloads run: entries they hold open survive and are dropped
        by a later clear or by LRU eviction.
        """
        result = self.engine.clear_cache()
        self.metrics.cache_clears.labels(trigger.value).inc()
        log.info(
            "reference caches cleared (%s): %d bytes, %d entries freed",
            trigger.value,
            result.bytes_freed,
            result.entries_freed,
        )
        return result
