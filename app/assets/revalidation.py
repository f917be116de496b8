"""When a local copy must be checked against the remote: pure decisions, no I/O.

Modes are explicit (unlike baiji-pod, where a timeout of 0 meant "never"):
- `never`: a local copy, once fetched, is served without asking the remote again;
- `always`: every access costs one conditional request (`max-age 0` means this);
- `after N seconds`: the copy is served while `now - validated_at < N`, then checked once.
Buckets declared immutable are never revalidated, whatever the mode.

Ages are measured from `validated_at`, the last moment the remote confirmed (or supplied) the
copy. A copy whose `validated_at` lies in the future (the clock went back) is treated as due, so a
skewed clock cannot pin a copy forever. When the remote cannot be reached, a copy may still be
served while its age is within `max_stale_seconds`, counted from the same `validated_at`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime

from app.errors import InvalidInput


class Mode(enum.StrEnum):
    NEVER = "never"
    ALWAYS = "always"
    AFTER = "after"


class Action(enum.StrEnum):
    FETCH = "fetch"  # no usable local copy: download
    SERVE = "serve"  # local copy is fresh: no request at all
    REVALIDATE = "revalidate"  # local copy is due: one conditional request


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long a validated copy stays fresh. Build with the classmethods, not by hand."""

    mode: Mode
    max_age_seconds: float = 0.0

    @classmethod
    def never(cls) -> Freshness:
        return cls(Mode.NEVER)

    @classmethod
    def always(cls) -> Freshness:
        return cls(Mode.ALWAYS)

    @classmethod
    def after(cls, seconds: float) -> Freshness:
        """`after(0)` is `always()`; a negative or non-finite age is InvalidInput."""
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidInput(f"invalid max-age {seconds!r}: a number of seconds >= 0")
        return cls.always() if seconds == 0 else cls(Mode.AFTER, float(seconds))

    @classmethod
    def parse(cls, text: str) -> Freshness:
        """`never`, `always`, or a number of seconds (0 = always)."""
        lowered = text.strip().lower()
        if lowered == Mode.NEVER:
            return cls.never()
        if lowered == Mode.ALWAYS:
            return cls.always()
        try:
            seconds = float(lowered)
        except ValueError:
            raise InvalidInput(f"invalid max-age {text!r}: 'never', 'always' or seconds >= 0") from None
        return cls.after(seconds)

    def __str__(self) -> str:
        return f"after {self.max_age_seconds:g}s" if self.mode is Mode.AFTER else str(self.mode)


@dataclass(frozen=True, slots=True)
class RevalidationPolicy:
    freshness: Freshness
    max_stale_seconds: float = 7 * 86400.0
    immutable_buckets: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not math.isfinite(self.max_stale_seconds) or self.max_stale_seconds < 0:
            raise InvalidInput(f"invalid max-stale {self.max_stale_seconds!r}: seconds >= 0")

    def with_freshness(self, freshness: Freshness) -> RevalidationPolicy:
        return RevalidationPolicy(freshness, self.max_stale_seconds, self.immutable_buckets)


def decide(policy: RevalidationPolicy, bucket: str, validated_at: datetime | None, now: datetime) -> Action:
    """What to do for an access at `now` to a copy last validated at `validated_at` (None: no copy)."""
    if validated_at is None:
        return Action.FETCH
    if bucket in policy.immutable_buckets:
        return Action.SERVE
    mode = policy.freshness.mode
    if mode is Mode.NEVER:
        return Action.SERVE
    if mode is Mode.ALWAYS:
        return Action.REVALIDATE
    age = (now - validated_at).total_seconds()
    if age < 0 or age >= policy.freshness.max_age_seconds:
        return Action.REVALIDATE
    return Action.SERVE


def stale_allowed(policy: RevalidationPolicy, validated_at: datetime, now: datetime) -> bool:
    """True when a copy may stand in for an unreachable remote: age within max-stale."""
    age = (now - validated_at).total_seconds()
    return 0 <= age <= policy.max_stale_seconds
