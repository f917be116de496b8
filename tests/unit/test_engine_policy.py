"""Pure engine decisions: ratio rule, source window, representation choice, compressed magics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.keys import DEFAULT_DELTA_EXTENSIONS
from app.domain.sizes import MiB
from app.engine.policy import (
    XDELTA_MAX_WINDOW,
    XDELTA_MIN_WINDOW,
    Found,
    Representation,
    accept_delta,
    choose_representation,
    created_at,
    decode_window,
    expanded_by_xdelta3,
    source_window,
    wants_delta,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.smoke
def test_accept_delta_is_inclusive_at_the_ratio() -> None:
    assert accept_delta(50, 100, 0.5)
    assert not accept_delta(51, 100, 0.5)
    assert not accept_delta(0, 0, 0.5)


@given(st.integers(0, 10**12), st.integers(1, 10**12), st.floats(0.01, 1.0))
def test_accept_delta_matches_the_ratio_definition(delta: int, size: int, ratio: float) -> None:
    assert accept_delta(delta, size, ratio) == (delta <= ratio * size)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("rel/app-1.0.zip", True),
        ("rel/APP.TAR.GZ", True),
        ("a/b/pkg.whl.zip", True),
        ("rel/notes.txt", False),
        ("rel/zip", False),
        ("dir.zip/readme", False),
    ],
)
def test_wants_delta_looks_at_the_file_name_suffix(key: str, expected: bool) -> None:
    assert wants_delta(key, DEFAULT_DELTA_EXTENSIONS) is expected


def test_source_window_covers_the_reference_within_the_budget() -> None:
    assert source_window(1, 256 * MiB) == XDELTA_MIN_WINDOW
    assert source_window(60 * MiB, 256 * MiB) == 64 * MiB
    assert source_window(100 * MiB, 256 * MiB) == 128 * MiB  # 1.55 x 128 MiB fits in 256 MiB
    assert source_window(1024 * MiB, 256 * MiB) == 128 * MiB
    assert source_window(1024 * MiB, 2048 * MiB) == 1024 * MiB
    assert source_window(5000 * MiB, 8192 * MiB) == XDELTA_MAX_WINDOW
    assert source_window(100 * MiB, 1 * MiB) == XDELTA_MIN_WINDOW


def test_decode_window_stays_small() -> None:
    assert decode_window(1024 * MiB, 2048 * MiB) == 64 * MiB
    assert decode_window(10 * MiB, 2048 * MiB) == 16 * MiB


@given(st.integers(0, 1 << 40), st.integers(0, 1 << 40))
def test_source_window_stays_in_xdelta3_limits(size: int, budget: int) -> None:
    window = source_window(size, budget)
    assert XDELTA_MIN_WINDOW <= window <= XDELTA_MAX_WINDOW
    assert window & (window - 1) == 0  # a power of two
    assert window >= min(size, XDELTA_MAX_WINDOW) or window * 1.55 <= max(budget, XDELTA_MIN_WINDOW * 1.55)


def _found(created: datetime | None, modified: datetime) -> Found:
    meta = {"dg-created-at": created.replace(tzinfo=None).isoformat() + "Z"} if created else {}
    return Found(meta, modified)


def test_choose_representation_single_or_none() -> None:
    assert choose_representation(None, None) is None
    assert choose_representation(_found(T0, T0), None) is Representation.DELTA
    assert choose_representation(None, _found(None, T0)) is Representation.DIRECT


def test_choose_representation_newest_writer_time_wins() -> None:
    older, newer = _found(T0, T0), _found(T0 + timedelta(microseconds=5), T0)
    assert choose_representation(older, newer) is Representation.DIRECT
    assert choose_representation(newer, older) is Representation.DELTA


def test_choose_representation_falls_back_to_last_modified_and_ties_go_to_delta() -> None:
    foreign_newer = _found(None, T0 + timedelta(seconds=1))
    assert choose_representation(_found(T0 + timedelta(days=1), T0), foreign_newer) is Representation.DIRECT
    assert choose_representation(_found(None, T0), _found(None, T0)) is Representation.DELTA


def test_created_at_parses_deltaglider_timestamps_and_rejects_garbage() -> None:
    assert created_at({"dg-created-at": "2024-05-01T12:00:00Z"}) == T0
    assert created_at({"created_at": "2024-05-01T12:00:00.000001Z"}) == T0 + timedelta(microseconds=1)
    assert created_at({"dg-created-at": "yesterday"}) is None
    assert created_at({}) is None


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x1f\x8b\x08\x00", True),  # gzip
        (b"BZh91AY", True),  # bzip2
        (b"\xfd7zXZ\x00\x00", True),  # xz
        (b"\x1f\x9d\x90", True),  # compress
        (b"PK\x03\x04", False),  # zip
        (b"ustar", False),
        (b"", False),
    ],
)
def test_expanded_by_xdelta3_knows_the_external_compressors(head: bytes, expected: bool) -> None:
    assert expanded_by_xdelta3(head) is expected
