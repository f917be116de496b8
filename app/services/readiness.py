"""Readiness: can this replica serve? Each dependency is one named check.

A check raises to fail readiness. Coordination never does: with Redis down the replica still
serves (in-process single-flight), so that check reports the degradation in its detail instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from app.coordination.base import BackendStatus
from app.errors import AccessDenied, BucketNotFound, GliderError
from app.storage.base import ObjectStore

log = logging.getLogger(__name__)

Check = Callable[[], str]
"""Returns a short detail when the dependency is usable; raises a GliderError when it is not."""


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    ready: bool
    checks: tuple[CheckOutcome, ...]


class Readiness:
    def __init__(self, checks: Mapping[str, Check]) -> None:
        self._checks = dict(checks)

    def check(self) -> ReadinessReport:
        outcomes: list[CheckOutcome] = []
        for name, check in self._checks.items():
            try:
                outcomes.append(CheckOutcome(name, True, check()))
            except GliderError as err:
                # Probes are unauthenticated by default: the answer names the failure, the log
                # holds its detail (endpoint, library message).
                log.warning("readiness check %s failed: %s: %s", name, type(err).__name__, err)
                outcomes.append(CheckOutcome(name, False, f"{type(err).__name__}; details in the server log"))
        return ReadinessReport(all(o.ok for o in outcomes), tuple(outcomes))


def s3_check(store: ObjectStore, bucket: str) -> Check:
    """S3 answers HEAD on `bucket`. A missing bucket still proves S3 is reachable."""

    def check() -> str:
        try:
            store.head_bucket(bucket)
        except BucketNotFound:
            return f"reachable; bucket {bucket!r} does not exist yet"
        except AccessDenied as err:
            raise AccessDenied(f"credentials refused on bucket {bucket!r}") from err
        return "reachable"

    return check


def coordination_check(status: Callable[[], BackendStatus]) -> Check:
    """Which backend coordinates stats computations. Always passes: a degraded backend (Redis
    unreachable, replicas coordinating only in-process) is reported as `degraded: ...`."""

    def check() -> str:
        state = status()
        if state.healthy:
            if state.backend == "inprocess":
                return "in-process (single replica; no Redis configured)"
            return f"{state.backend}: shared across replicas"
        since = ""
        if state.degraded_since is not None:
            since = " since " + datetime.fromtimestamp(state.degraded_since, UTC).isoformat(
                timespec="seconds"
            )
        reason = state.degraded_reason or "unknown"
        return (
            f"degraded{since}: {state.backend} unavailable ({reason}); "
            "coordinating in-process, requests still served"
        )

    return check
