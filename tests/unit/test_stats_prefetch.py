"""HEADs during the LIST for detailed computations without stored facts."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from app.errors import StorageUnavailable
from app.services.stats import CacheOutcome, StatsService
from app.stats.model import StatsMode
from app.storage.base import ListPage, ObjectHead
from app.storage.memory import MemoryObjectStore
from tests.support.stats import WireBucket, figures

BUCKET = "prefetch"


class _Recording(MemoryObjectStore):
    """Records the order of LIST pages and HEADs; can fail the LIST after some pages."""

    def __init__(self, fail_after_pages: int | None = None) -> None:
        super().__init__()
        self.events: list[str] = []
        self.headed = threading.Event()
        self.wait_for_heads = False
        self.heads: Counter[str] = Counter()
        self._fail_after = fail_after_pages
        self._events_lock = threading.Lock()

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        continuation_token: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        with self._events_lock:
            pages = self.events.count("list")
            self.events.append("list")
        if self._fail_after is not None and pages >= self._fail_after:
            raise StorageUnavailable("listing broke")
        if self.wait_for_heads and pages >= 1:
            # Later pages arrive only once HEADs are under way: LIST and HEADs must overlap.
            assert self.headed.wait(timeout=10), "no HEAD started while the LIST was running"
        return super().list_page(
            bucket, prefix, delimiter=delimiter, continuation_token=continuation_token, max_keys=max_keys
        )

    def head(self, bucket: str, key: str) -> ObjectHead:
        with self._events_lock:
            self.events.append("head")
            self.heads[key] += 1
        self.headed.set()
        return super().head(bucket, key)


def _fill(store: MemoryObjectStore, deltas: int = 2500) -> WireBucket:
    store.create_bucket(BUCKET)
    wire = WireBucket(store, BUCKET)
    for n in range(deltas):
        wire.delta(f"space-{n % 7}/build-{n:05d}.zip", stored=5, original=1000 + n)
    return wire


@pytest.mark.parametrize("use_cache", [True, False])
def test_cold_detailed_heads_start_during_the_list_and_each_delta_once(use_cache: bool) -> None:
    store = _Recording()
    wire = _fill(store)
    store.events.clear()
    store.wait_for_heads = True
    result = StatsService(store, head_concurrency=8).get(BUCKET, StatsMode.DETAILED, use_cache=use_cache)
    assert result.exact
    assert result.heads == 2500
    assert figures(result.stats) == wire.expected()
    assert set(store.heads.values()) == {1}
    assert len(store.heads) == 2500
    last_list = len(store.events) - 1 - store.events[::-1].index("list")
    assert "head" in store.events[:last_list]


def test_no_prefetch_when_facts_are_stored() -> None:
    store = _Recording()
    wire = _fill(store, deltas=1200)
    service = StatsService(store, head_concurrency=8)
    service.get(BUCKET, StatsMode.DETAILED)
    wire.delta("space-1/new.zip", stored=5, original=77)
    store.heads.clear()
    result = service.get(BUCKET, StatsMode.DETAILED)
    assert result.cache is CacheOutcome.STALE
    assert dict(store.heads) == {"space-1/new.zip.delta": 1}


def test_a_failing_list_stops_the_prefetch_and_raises() -> None:
    store = _Recording(fail_after_pages=2)
    _fill(store)
    with pytest.raises(StorageUnavailable, match="listing broke"):
        StatsService(store, head_concurrency=8).get(BUCKET, StatsMode.DETAILED)
    assert sum(store.heads.values()) < 2500
