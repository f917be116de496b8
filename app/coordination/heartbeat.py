"""Keeps a lease alive while its holder computes: a thread extends it every third of its length."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from app.coordination.base import CoordinationBackend, Lease, LeaseState
from app.errors import CoordinationUnavailable

log = logging.getLogger(__name__)


class LeaseHeartbeat:
    """Context manager: extends `lease` every `ttl_seconds / 3` until the block exits.

    A lost lease is reported through `on_event("lost")` (the computation carries on: the fenced
    store decides whether its result may be kept); a lapsed-but-free lease is taken back
    (`"regained"`). Backend errors are reported (`"extend_failed"`) and retried next beat.
    """

    def __init__(
        self,
        backend: CoordinationBackend,
        lease: Lease,
        ttl_seconds: float,
        on_event: Callable[[str], None],
    ) -> None:
        self._backend = backend
        self._lease = lease
        self._ttl = ttl_seconds
        self._on_event = on_event
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-heartbeat-{lease.key}", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=max(self._ttl, 1.0))

    def _beat(self) -> None:
        interval = self._ttl / 3
        lost = False
        while not self._stop.wait(interval):
            try:
                state = self._backend.extend(self._lease, self._ttl)
            except CoordinationUnavailable as exc:
                log.warning("lease heartbeat for %s failed: %s", self._lease.key, exc)
                self._on_event("extend_failed")
                continue
            if state is LeaseState.LOST and not lost:
                lost = True
                self._on_event("lost")
            elif state is LeaseState.REGAINED:
                lost = False
                self._on_event("regained")
