"""What a stats request answers: the figures and how they were obtained (`CacheOutcome`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from app.stats.model import BucketStats


class CacheOutcome(enum.StrEnum):
    HIT = "hit"
    MISS = "miss"
    STALE = "stale"
    REFRESH = "refresh"
    BYPASS = "bypass"


@dataclass(frozen=True, slots=True)
class StatsResult:
    """Figures plus how they were obtained. `exact` is False when any delta's original size is
    an estimate; `age_seconds` is the time since `computed_at`; `heads` the HEADs this call made."""

    stats: BucketStats
    cache: CacheOutcome
    computed_at: datetime
    exact: bool
    age_seconds: float
    heads: int = 0
