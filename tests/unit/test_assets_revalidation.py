from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.assets.revalidation import Action, Freshness, Mode, RevalidationPolicy, decide, stale_allowed
from app.errors import InvalidInput

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def policy(
    freshness: Freshness, *, stale: float = 3600.0, immutable: frozenset[str] = frozenset()
) -> RevalidationPolicy:
    return RevalidationPolicy(freshness, max_stale_seconds=stale, immutable_buckets=immutable)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_no_local_copy_is_fetched_in_every_mode() -> None:
    for fresh in (Freshness.never(), Freshness.always(), Freshness.after(60)):
        assert decide(policy(fresh), "b", None, T0) is Action.FETCH


def test_after_n_seconds_serves_until_the_age_reaches_n() -> None:
    p = policy(Freshness.after(60))
    assert decide(p, "b", T0, at(0)) is Action.SERVE
    assert decide(p, "b", T0, at(59.9)) is Action.SERVE
    assert decide(p, "b", T0, at(60)) is Action.REVALIDATE
    assert decide(p, "b", T0, at(10**6)) is Action.REVALIDATE


def test_max_age_zero_means_always_not_never() -> None:
    fresh = Freshness.after(0)
    assert fresh.mode is Mode.ALWAYS
    assert Freshness.parse("0").mode is Mode.ALWAYS
    assert decide(policy(fresh), "b", T0, at(0)) is Action.REVALIDATE


def test_never_serves_forever() -> None:
    assert decide(policy(Freshness.never()), "b", T0, at(10**9)) is Action.SERVE


def test_immutable_buckets_are_never_revalidated() -> None:
    p = policy(Freshness.always(), immutable=frozenset({"frozen"}))
    assert decide(p, "frozen", T0, at(10**9)) is Action.SERVE
    assert decide(p, "other", T0, at(0)) is Action.REVALIDATE


def test_a_copy_validated_in_the_future_is_due() -> None:
    assert decide(policy(Freshness.after(3600)), "b", at(100), T0) is Action.REVALIDATE


def test_stale_window_is_counted_from_the_last_validation() -> None:
    p = policy(Freshness.after(60), stale=600)
    assert stale_allowed(p, T0, at(600))
    assert not stale_allowed(p, T0, at(600.5))
    assert not stale_allowed(p, at(10), T0)  # clock went back: do not trust the copy


@pytest.mark.parametrize(
    ("text", "mode", "age"),
    [
        ("never", Mode.NEVER, 0.0),
        ("ALWAYS", Mode.ALWAYS, 0.0),
        ("86400", Mode.AFTER, 86400.0),
        ("1.5", Mode.AFTER, 1.5),
    ],
)
def test_parse(text: str, mode: Mode, age: float) -> None:
    fresh = Freshness.parse(text)
    assert (fresh.mode, fresh.max_age_seconds) == (mode, age)


@pytest.mark.parametrize("text", ["-1", "soon", "nan", "inf", ""])
def test_parse_refuses_nonsense(text: str) -> None:
    with pytest.raises(InvalidInput):
        Freshness.parse(text)


def test_negative_max_stale_is_refused() -> None:
    with pytest.raises(InvalidInput):
        RevalidationPolicy(Freshness.never(), max_stale_seconds=-1)
