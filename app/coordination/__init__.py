"""Coordination: single-flight computation, stale-while-revalidate and shared invalidation.

`factory.open_backend` picks the backend (in-process, or Redis with in-process fallback);
`singleflight.SingleFlight` is what services call. Only `redis.py` imports redis.
"""
