"""Warming the asset cache from a list of targets, with bounded parallelism.

A target is any string the given `resolve` function understands (an `s3://` URL for the asset
cache, a logical path for a versioned cache). Targets run on a pool of `concurrency` threads; a
failure is recorded against its target and does not stop the others. Duplicate targets are
fetched once (the cache's lock would make the second a hit anyway, but it would still take a
worker). `on_done` is called in the calling thread, once per target, as each finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from app.errors import GliderError, InvalidInput


@dataclass(frozen=True, slots=True)
class PrefillResult:
    """Exactly one of `path` and `error` is set."""

    target: str
    path: Path | None = None
    error: GliderError | None = None


@dataclass(frozen=True, slots=True)
class PrefillReport:
    results: tuple[PrefillResult, ...]

    @property
    def failures(self) -> tuple[PrefillResult, ...]:
        return tuple(result for result in self.results if result.error is not None)


def read_target_list(text: str) -> list[str]:
    """One target per line; blank lines and `#` comments are skipped."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def prefill(
    targets: Iterable[str],
    resolve: Callable[[str], Path],
    *,
    concurrency: int,
    on_done: Callable[[PrefillResult], None] | None = None,
) -> PrefillReport:
    """Resolve every target at most `concurrency` at a time; results in the targets' order."""
    if concurrency < 1:
        raise InvalidInput(f"invalid concurrency {concurrency}: must be at least 1")
    unique = list(dict.fromkeys(targets))

    def run(target: str) -> PrefillResult:
        try:
            return PrefillResult(target, path=resolve(target))
        except GliderError as err:
            return PrefillResult(target, error=err)

    results: dict[str, PrefillResult] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="glider-prefill") as pool:
        futures = [pool.submit(run, target) for target in unique]
        for future in as_completed(futures):
            result = future.result()
            results[result.target] = result
            if on_done is not None:
                on_done(result)
    return PrefillReport(tuple(results[target] for target in unique))
