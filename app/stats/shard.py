"""One shard's deltas against its stored facts: what to HEAD, what was learned, its totals (pure).

A delta is *known* when a fact with its current ETag and stored size exists (or a HEAD just
told us); otherwise *unknown*, and its original size is estimated per deltaspace with
`model.estimate_unknown`. Modes decide which unknown deltas get a HEAD (`plan`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.stats.fingerprint import deltaspace_of
from app.stats.index import Fact, ShardSummary
from app.stats.model import StatsMode, estimate_unknown


@dataclass(slots=True)
class _Space:
    known_count: int = 0
    known_original: int = 0
    unknown_count: int = 0
    unknown_stored: int = 0
    # insertion-ordered set: listing order, O(1) removal
    unknown_keys: dict[str, None] = field(default_factory=dict)


class ShardWork:
    """Mutable working state of one shard during a computation. Not thread-safe."""

    def __init__(
        self,
        shard: int,
        digest: str,
        deltas: Iterable[tuple[str, str, int]],
        stored: Mapping[str, Fact],
        references: Mapping[str, int],
        *,
        learned: Mapping[str, Fact] | None = None,
    ) -> None:
        """`stored`: the shard document's facts; `learned`: facts HEADed in this computation
        already (see prefetch.py). Both count only where ETag and size still match."""
        self.shard = shard
        self.digest = digest
        self.deltas = 0
        self.facts: dict[str, Fact] = {}
        self._pending: dict[str, tuple[str, int]] = {}
        self._spaces: dict[str, _Space] = {}
        self._references = references
        self._stored_facts = stored
        for key, etag, size in deltas:
            self.deltas += 1
            space = self._spaces.setdefault(deltaspace_of(key), _Space())
            fact = stored.get(key)
            if (fact is None or fact[0] != etag or fact[1] != size) and learned:
                fact = learned.get(key)
            if fact is not None and fact[0] == etag and fact[1] == size:
                self.facts[key] = fact
                space.known_count += 1
                space.known_original += fact[2]
            else:
                self._pending[key] = (etag, size)
                space.unknown_count += 1
                space.unknown_stored += size
                space.unknown_keys[key] = None

    def plan(self, mode: StatsMode) -> list[str]:
        """Keys to HEAD: none (quick), the first unknown delta of each deltaspace that has no
        known delta (sampled), or every unknown delta (detailed)."""
        if mode is StatsMode.DETAILED:
            return list(self._pending)
        if mode is StatsMode.SAMPLED:
            return [
                next(iter(s.unknown_keys))
                for s in self._spaces.values()
                if s.unknown_keys and not s.known_count
            ]
        return []

    def listed(self, key: str) -> tuple[str, int]:
        """(ETag, stored size) the listing showed for an unknown delta."""
        return self._pending[key]

    def learn(self, key: str, original: int) -> None:
        """Record a HEAD's answer: `key` (planned from this shard) has `original` bytes."""
        etag, size = self._pending.pop(key)
        space = self._spaces[deltaspace_of(key)]
        space.unknown_count -= 1
        space.unknown_stored -= size
        del space.unknown_keys[key]
        space.known_count += 1
        space.known_original += original
        self.facts[key] = (etag, size, original)

    @property
    def unknown(self) -> int:
        return len(self._pending)

    @property
    def facts_changed(self) -> bool:
        """Whether the stored shard document differs from what is known now (learned or pruned)."""
        return self.facts != self._stored_facts

    def summary(self) -> ShardSummary:
        known_original = estimated = unsampled = 0
        for name, space in self._spaces.items():
            known_original += space.known_original
            if space.unknown_count:
                estimated += estimate_unknown(
                    unknown_count=space.unknown_count,
                    unknown_stored=space.unknown_stored,
                    known_count=space.known_count,
                    known_original=space.known_original,
                    reference_size=self._references.get(name),
                )
                if not space.known_count:
                    unsampled += 1
        return ShardSummary(
            digest=self.digest,
            deltas=self.deltas,
            known=self.deltas - len(self._pending),
            known_original=known_original,
            estimated_original=estimated,
            unsampled_spaces=unsampled,
        )
