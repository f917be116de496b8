from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assets.versions import Bump, Version
from app.errors import InvalidInput

parts = st.integers(min_value=0, max_value=10**6)


def test_parse_and_format_round_trip() -> None:
    assert Version.parse("1.2.5") == Version(1, 2, 5)
    assert str(Version(0, 10, 0)) == "0.10.0"


@pytest.mark.parametrize("text", ["", "1", "1.2", "1.2.3.4", "v1.2.3", "1.02.3", "-1.0.0", "1.2.x", " 1.2.3"])
def test_malformed_versions_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"MAJOR\.MINOR\.PATCH"):
        Version.parse(text)
    assert not Version.is_version(text)


def test_bumps_reset_lower_parts() -> None:
    v = Version(1, 2, 5)
    assert v.bump(Bump.MAJOR) == Version(2, 0, 0)
    assert v.bump(Bump.MINOR) == Version(1, 3, 0)
    assert v.bump(Bump.PATCH) == Version(1, 2, 6)


@given(parts, parts, parts, st.sampled_from(list(Bump)))
def test_every_bump_is_greater_and_round_trips(major: int, minor: int, patch: int, bump: Bump) -> None:
    v = Version(major, minor, patch)
    assert Version.parse(str(v)) == v
    assert v.bump(bump) > v
