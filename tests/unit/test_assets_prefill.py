from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.assets.prefill import PrefillResult, prefill, read_target_list
from app.errors import InvalidInput, ObjectNotFound


def test_read_target_list_skips_blanks_and_comments() -> None:
    text = "# assets\ns3://b-1/a\n\n   s3://b-1/b  \n  # off\n/local/file\n"
    assert read_target_list(text) == ["s3://b-1/a", "s3://b-1/b", "/local/file"]


def test_parallelism_is_bounded_and_reached() -> None:
    limit = 3
    active = 0
    peak = 0
    lock = threading.Lock()
    all_running = threading.Barrier(limit, timeout=10)

    def resolve(target: str) -> Path:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        if int(target) < limit:
            all_running.wait()  # the first `limit` targets run together, or this times out
        with lock:
            active -= 1
        return Path(target)

    report = prefill([str(i) for i in range(20)], resolve, concurrency=limit)
    assert peak == limit
    assert [r.path for r in report.results] == [Path(str(i)) for i in range(20)]


def test_failures_are_recorded_and_do_not_stop_the_rest() -> None:
    seen: list[PrefillResult] = []

    def resolve(target: str) -> Path:
        if target == "bad":
            raise ObjectNotFound("bad is missing")
        return Path(target)

    report = prefill(["a", "bad", "b", "a"], resolve, concurrency=2, on_done=seen.append)
    assert [r.target for r in report.results] == ["a", "bad", "b"]  # duplicates once, input order
    assert [r.target for r in report.failures] == ["bad"]
    assert isinstance(report.failures[0].error, ObjectNotFound)
    assert sorted(r.target for r in seen) == ["a", "b", "bad"]


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(InvalidInput):
        prefill(["a"], Path, concurrency=0)
