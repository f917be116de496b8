"""The pure freshness decision and the entry envelope: no I/O, no clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.coordination.base import CacheKey, Entry, Snapshot
from app.coordination.envelope import decode_entry, encode_times
from app.coordination.freshness import Policy, Verdict, acceptable, decide

POLICY = Policy(fresh_seconds=30, max_stale_seconds=3600)


def entry(fence: int = 100, at: float = 1000.0) -> Entry:
    return POLICY.entry_for(b"x", fence, at)


def snap(e: Entry | None, invalidated: int = 0, backoff: float = 0.0) -> Snapshot:
    return Snapshot(e, invalidated, backoff)


def test_nothing_stored_is_a_miss() -> None:
    d = decide(snap(None), 1000.0)
    assert d.verdict is Verdict.MISS
    assert d.fallback is None


def test_within_fresh_window_is_fresh() -> None:
    d = decide(snap(entry()), 1029.9)
    assert d.verdict is Verdict.FRESH
    assert d.fallback == entry()


def test_after_fresh_window_is_stale_and_revalidates() -> None:
    d = decide(snap(entry()), 1030.0)
    assert d.verdict is Verdict.STALE
    assert d.revalidate
    assert d.fallback == entry()


def test_stale_during_backoff_does_not_revalidate() -> None:
    d = decide(snap(entry(), backoff=4.0), 1100.0)
    assert d.verdict is Verdict.STALE
    assert not d.revalidate


def test_past_max_stale_is_a_miss_with_nothing_to_fall_back_to() -> None:
    d = decide(snap(entry()), 1000.0 + 3600)
    assert d.verdict is Verdict.MISS
    assert d.fallback is None


def test_invalidated_entry_must_refresh_but_can_fall_back() -> None:
    d = decide(snap(entry(fence=100), invalidated=100), 1001.0)  # same stamp counts as invalidated
    assert d.verdict is Verdict.REFRESH
    assert d.floor == 100
    assert d.fallback == entry(fence=100)
    assert decide(snap(entry(fence=101), invalidated=100), 1001.0).verdict is Verdict.FRESH


def test_explicit_refresh_asks_for_a_newer_fence() -> None:
    d = decide(snap(entry(fence=100)), 1001.0, newer_than=100)
    assert d.verdict is Verdict.REFRESH
    assert d.floor == 100


def test_acceptable_requires_newer_than_floor_and_invalidation() -> None:
    e = entry(fence=200)
    assert acceptable(snap(e), 1001.0, floor=199) == e
    assert acceptable(snap(e), 1001.0, floor=200) is None
    assert acceptable(snap(e, invalidated=250), 1001.0, floor=0) is None
    assert acceptable(snap(e), 1000.0 + 3600, floor=0) is None  # hard-expired


def test_policy_keeps_stale_window_at_least_the_fresh_window() -> None:
    p = Policy(fresh_seconds=60, max_stale_seconds=10)
    e = p.entry_for(b"", 1, 0.0)
    assert (e.fresh_until, e.stale_until) == (60.0, 60.0)


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Policy(wait_seconds=0)
    with pytest.raises(ValueError):
        Policy(fresh_seconds=-1)


def test_poll_and_retry_hints_are_bounded() -> None:
    assert Policy(lease_seconds=15).poll_seconds == 1.0
    assert Policy(lease_seconds=0.1).poll_seconds == 0.05
    assert Policy(lease_seconds=15).retry_after_seconds == 5.0
    assert Policy(lease_seconds=0.5).retry_after_seconds == 1.0


@given(
    fence=st.integers(1, 10**15),
    invalidated=st.integers(0, 10**15),
    computed=st.floats(0, 1e9),
    age=st.floats(0, 1e5),
    backoff=st.floats(0, 100),
)
def test_decision_is_total_and_consistent(
    fence: int, invalidated: int, computed: float, age: float, backoff: float
) -> None:
    e = POLICY.entry_for(b"p", fence, computed)
    now = computed + age
    d = decide(snap(e, invalidated, backoff), now)
    if now >= e.stale_until:
        assert d.verdict is Verdict.MISS
        assert d.fallback is None
    elif fence <= invalidated:
        assert d.verdict is Verdict.REFRESH
        assert d.fallback == e
    elif now < e.fresh_until:
        assert d.verdict is Verdict.FRESH
    else:
        assert d.verdict is Verdict.STALE
        assert d.revalidate == (backoff <= 0)
    # Whatever is served without computing is never invalidated or past its hard expiry.
    if d.verdict in (Verdict.FRESH, Verdict.STALE):
        assert d.fallback is not None
        assert d.fallback.fence > invalidated
        assert now < d.fallback.stale_until


def test_envelope_round_trip_and_rejections() -> None:
    e = Entry(b"\x00\xff", 123456789012345, 1.5, 31.5, 3601.5)
    times = encode_times(e)
    assert times == b'{"v":1,"c":1.5,"f":31.5,"s":3601.5}'
    assert decode_entry(e.payload, str(e.fence).encode(), times) == e
    assert decode_entry(None, b"1", times) is None
    assert decode_entry(b"", b"1", b'{"v":2,"c":1,"f":1,"s":1}') is None
    assert decode_entry(b"", b"1", b"not json") is None
    assert decode_entry(b"", b"nope", times) is None


@pytest.mark.parametrize("bad", [("", "m"), ("a:b", "m"), ("a", "m n"), ("a", "{m}")])
def test_cache_key_rejects_ambiguous_parts(bad: tuple[str, str]) -> None:
    with pytest.raises(ValueError):
        CacheKey(*bad)
