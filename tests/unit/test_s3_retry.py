"""The retry decisions of the S3 store (`app.storage.s3_retry`): pure, so checked without I/O."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import AlreadyExists, InvalidInput, StorageTimeout, StorageUnavailable, Throttled
from app.storage.s3_retry import (
    FAULT_BASE,
    SERVER_JITTER,
    THROTTLE_BASE,
    RetryPolicy,
    ThrottleGate,
    next_wait,
    parse_retry_after,
    retryable,
)

POLICY = RetryPolicy(attempts=5, max_wait=20.0, budget=60.0)
SLOW = Throttled("slow down")


@given(
    attempt=st.integers(1, 4),
    server=st.floats(0, 20),
    rand=st.floats(0, 1, exclude_max=True),
)
def test_a_server_wait_within_the_cap_is_waited_in_full(attempt: int, server: float, rand: float) -> None:
    pause = next_wait(attempt, SLOW, server, POLICY, remaining=60.0, rand=rand)
    assert pause is not None
    assert server <= pause <= server * (1 + SERVER_JITTER)


@given(server=st.floats(20.001, 1e6), rand=st.floats(0, 1, exclude_max=True))
def test_a_server_wait_beyond_the_cap_gives_up(server: float, rand: float) -> None:
    assert next_wait(1, SLOW, server, POLICY, remaining=1e9, rand=rand) is None


def test_a_server_wait_beyond_the_budget_gives_up() -> None:
    assert next_wait(1, SLOW, 10.0, POLICY, remaining=9.0, rand=0.5) is None
    assert next_wait(1, SLOW, 10.0, POLICY, remaining=11.0, rand=0.99) == pytest.approx(11.0)


@given(attempt=st.integers(1, 4), rand=st.floats(0, 1, exclude_max=True))
def test_full_jitter_backoff_is_bounded_and_doubles(attempt: int, rand: float) -> None:
    throttled = next_wait(attempt, SLOW, None, POLICY, remaining=1e9, rand=rand)
    fault = next_wait(attempt, StorageUnavailable("down"), None, POLICY, remaining=1e9, rand=rand)
    assert throttled is not None
    assert fault is not None
    assert 0 <= throttled <= min(POLICY.max_wait, THROTTLE_BASE * 2 ** (attempt - 1))
    assert 0 <= fault <= min(POLICY.max_wait, FAULT_BASE * 2 ** (attempt - 1))
    assert throttled == pytest.approx(rand * min(POLICY.max_wait, THROTTLE_BASE * 2 ** (attempt - 1)))


def test_attempts_bound_the_retries() -> None:
    assert next_wait(5, SLOW, 1.0, POLICY, remaining=60.0, rand=0.0) is None
    assert next_wait(5, SLOW, None, POLICY, remaining=60.0, rand=0.0) is None
    assert next_wait(1, SLOW, None, RetryPolicy(attempts=1), remaining=60.0, rand=0.0) is None


def test_what_is_worth_retrying() -> None:
    assert retryable(SLOW, creating=False)
    assert retryable(SLOW, creating=True)  # a throttled write did not happen
    assert retryable(StorageTimeout("slow"), creating=False)
    assert not retryable(StorageTimeout("slow"), creating=True)  # it may have been written
    assert not retryable(InvalidInput("bad"), creating=False)
    assert not retryable(AlreadyExists("there"), creating=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1.0), (" 30 ", 30.0), ("0", 0.0), ("2.5", 2.5), (None, None), ("-3", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)  # fmt: skip
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_gate_is_shared_per_bucket_and_keeps_the_longest_hold() -> None:
    now = [1000.0]
    gate = ThrottleGate(clock=lambda: now[0])
    gate.hold("a", 5.0)
    gate.hold("a", 1.0)  # a shorter answer does not shorten the pause
    assert gate.remaining("a") == 5.0
    assert gate.remaining("b") == 0.0
    gate.hold("c", 0.05)
    seen: list[float] = []
    threads = [threading.Thread(target=lambda: seen.append(gate.remaining("c"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [pytest.approx(0.05)] * 8  # no time passes: every thread sees the whole pause
    now[0] += 0.03
    assert gate.remaining("c") == pytest.approx(0.02)
    assert gate.remaining("a") == pytest.approx(4.97)
    now[0] += 0.03  # past the pause: free again, never negative
    assert gate.remaining("c") == 0.0
