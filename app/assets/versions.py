"""Asset version numbers: `MAJOR.MINOR.PATCH`, three non-negative integers, bumped by `vc update`.

Only the shape of semver is used (no pre-release or build suffixes): a manifest pins one exact
version and the cache never compares versions, so the numbers only have to be unambiguous and
readable. Leading zeros are refused so that `1.02.0` and `1.2.0` cannot name two objects.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from app.errors import InvalidInput

_VERSION_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


class Bump(enum.StrEnum):
    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"


@dataclass(frozen=True, slots=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Raise InvalidInput unless `text` is exactly `MAJOR.MINOR.PATCH`."""
        match = _VERSION_RE.match(text)
        if match is None:
            raise InvalidInput(f"invalid version {text!r}: expected MAJOR.MINOR.PATCH, e.g. 1.2.5")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    @staticmethod
    def is_version(text: str) -> bool:
        return _VERSION_RE.match(text) is not None

    def bump(self, part: Bump) -> Version:
        """The next version: a major bump resets minor and patch, a minor bump resets patch."""
        if part is Bump.MAJOR:
            return Version(self.major + 1, 0, 0)
        if part is Bump.MINOR:
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


INITIAL_VERSION = Version(1, 0, 0)
