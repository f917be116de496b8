"""The Redis backend: the only module that imports redis.

Every decision that must be atomic across replicas is one Lua script (`lua_scripts.py`): taking
a lease (and its stamp), extending it, the fenced store, compare-and-delete release,
invalidation, back-off. Waiters subscribe to a per-key channel that stores and releases
publish on. Key layout under the prefix `P` (default "glider:"), for a key `G:N`:
`P entry:G:N` (hash p=payload, f=fence, t=times JSON), `P lease:G:N`, `P running:G:N` (zset:
running holders' tokens by window end), `P backoff:G:N`,
`P failures:G:N`, `P invalidated:G`, `P clock`, `P job:NAME`; channel `P changed:G:N`.
redis errors become `CoordinationUnavailable(reason="connection"|"timeout"|"error")`.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import redis
import redis.exceptions as redis_errors
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.retry import Retry

from app.coordination import lua_scripts as lua
from app.coordination.base import (
    MAX_RUNNING,
    RUN_WINDOW_LEASES,
    BackendStatus,
    CacheKey,
    CoordinationBackend,
    Entry,
    Lease,
    LeaseState,
    Snapshot,
    Watch,
    job_lease_seconds,
)
from app.coordination.envelope import decode_entry, encode_times
from app.errors import CoordinationUnavailable


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


@contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except redis_errors.TimeoutError as exc:
        raise CoordinationUnavailable(f"redis timed out ({operation})", reason="timeout") from exc
    except redis_errors.ConnectionError as exc:
        raise CoordinationUnavailable(f"redis unreachable ({operation})", reason="connection") from exc
    except redis_errors.RedisError as exc:
        raise CoordinationUnavailable(f"redis failed ({operation}): {exc}", reason="error") from exc


class RedisBackend(CoordinationBackend):
    """Shared by every replica using the same Redis and `key_prefix`.

    One command retry without back-off (a pooled connection to a restarted server fails once);
    beyond that a failure surfaces at once so the resilient wrapper can fall back quickly.
    Invalidation stamps are kept `invalidation_retention_seconds` (longer than any max-stale).
    """

    origin = "redis"

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "glider:",
        socket_timeout_seconds: float = 2.0,
        invalidation_retention_seconds: float = 7 * 86400.0,
    ) -> None:
        self._prefix = key_prefix
        self._timeout = socket_timeout_seconds
        self._retention_ms = _ms(invalidation_retention_seconds)
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_seconds,
            socket_connect_timeout=socket_timeout_seconds,
            retry=Retry(NoBackoff(), 1),
            client_name="glider",
        )
        self._lease_script = self._client.register_script(lua.LEASE)
        self._extend_script = self._client.register_script(lua.EXTEND)
        self._store_script = self._client.register_script(lua.STORE)
        self._release_script = self._client.register_script(lua.RELEASE)
        self._invalidate_script = self._client.register_script(lua.INVALIDATE)
        self._failure_script = self._client.register_script(lua.FAILURE)

    def _k(self, kind: str, key: CacheKey) -> str:
        return f"{self._prefix}{kind}:{key}"

    def read(self, key: CacheKey) -> Snapshot:
        with _translated("read"):
            # No MULTI needed: the entry is read before its group's stamp, so an invalidation
            # landing in between can only make the entry look invalid, never valid wrongly.
            pipe = self._client.pipeline(transaction=False)
            pipe.hmget(self._k("entry", key), ["p", "f", "t"])
            pipe.get(f"{self._prefix}invalidated:{key.group}")
            pipe.pttl(self._k("backoff", key))
            (payload, fence, times), invalidated, backoff_ms = pipe.execute()
        entry = decode_entry(payload, fence, times)
        return Snapshot(entry, int(invalidated or 0), max(0, int(backoff_ms)) / 1000.0)

    def try_lease(self, key: CacheKey, ttl_seconds: float) -> Lease | None:
        token = secrets.token_hex(16)
        with _translated("lease"):
            fence = self._lease_script(
                keys=[self._k("lease", key), f"{self._prefix}clock", self._k("running", key)],
                args=[token, _ms(ttl_seconds), _ms(RUN_WINDOW_LEASES * ttl_seconds), MAX_RUNNING],
            )
        return None if fence is None else Lease(key, token, int(fence), self.origin)

    def extend(self, lease: Lease, ttl_seconds: float) -> LeaseState:
        with _translated("extend"):
            answer = int(
                self._extend_script(
                    keys=[self._k("lease", lease.key), self._k("running", lease.key)],
                    args=[lease.token, _ms(ttl_seconds), _ms(RUN_WINDOW_LEASES * ttl_seconds)],
                )
            )
        return {1: LeaseState.HELD, 2: LeaseState.REGAINED}.get(answer, LeaseState.LOST)

    def store(self, lease: Lease, entry: Entry) -> bool:
        if entry.fence > lease.fence:
            raise ValueError("an entry's fence cannot be later than its lease's")
        key = lease.key
        # The hash outlives its hard expiry by a second: readers check stale_until anyway.
        ttl_ms = _ms(entry.stale_until - entry.computed_at + 1.0)
        with _translated("store"):
            stored = self._store_script(
                keys=[
                    self._k("lease", key),
                    self._k("entry", key),
                    self._k("backoff", key),
                    self._k("failures", key),
                ],
                args=[
                    lease.token,
                    entry.fence,
                    entry.payload,
                    encode_times(entry),
                    ttl_ms,
                    self._k("changed", key),
                ],
            )
        return int(stored) == 1

    def release(self, lease: Lease) -> None:
        with _translated("release"):
            self._release_script(
                keys=[self._k("lease", lease.key), self._k("running", lease.key)],
                args=[lease.token, self._k("changed", lease.key)],
            )

    def record_failure(self, key: CacheKey, base_seconds: float, cap_seconds: float) -> float:
        with _translated("record_failure"):
            delay_ms = self._failure_script(
                keys=[self._k("backoff", key), self._k("failures", key)],
                args=[_ms(base_seconds), _ms(max(cap_seconds, base_seconds))],
            )
        return int(delay_ms) / 1000.0

    def invalidate(self, group: str) -> int:
        with _translated("invalidate"):
            stamp = self._invalidate_script(
                keys=[f"{self._prefix}invalidated:{group}", f"{self._prefix}clock"], args=[self._retention_ms]
            )
        return int(stamp)

    def watch(self, key: CacheKey) -> AbstractContextManager[Watch]:
        return self._watching(key)

    @contextmanager
    def _watching(self, key: CacheKey) -> Iterator[Watch]:
        pubsub = self._client.pubsub()
        try:
            with _translated("watch"):
                pubsub.subscribe(self._k("changed", key))
                # Wait for the confirmation: only then is the subscription live on the server,
                # so a store made after the caller's next check cannot be missed.
                confirmation = pubsub.get_message(timeout=self._timeout)
            if confirmation is None or confirmation.get("type") != "subscribe":
                raise CoordinationUnavailable("redis did not confirm a subscription", reason="timeout")
            yield _PubSubWatch(pubsub)
        finally:
            # Closing only drops the socket; a dead server must not turn the exit into an error.
            with contextlib.suppress(redis_errors.RedisError, OSError):
                pubsub.close()

    def try_acquire_job(self, name: str, interval_seconds: float) -> bool:
        """True for one caller across all replicas per 90% of `interval_seconds`."""
        with _translated("job"):
            won = self._client.set(
                f"{self._prefix}job:{name}",
                secrets.token_hex(8),
                nx=True,
                px=_ms(job_lease_seconds(interval_seconds)),
            )
        return bool(won)

    def status(self) -> BackendStatus:
        try:
            with _translated("ping"):
                self._client.ping()
        except CoordinationUnavailable as exc:
            return BackendStatus(backend=self.origin, healthy=False, degraded_reason=exc.reason)
        return BackendStatus(backend=self.origin, healthy=True)

    def close(self) -> None:
        self._client.close()


class _PubSubWatch(Watch):
    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    def wait(self, timeout: float) -> bool:
        with _translated("watch"):
            message = self._pubsub.get_message(timeout=max(timeout, 0.0))
        return message is not None and message.get("type") == "message"
