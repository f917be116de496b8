"""Builders for what both the service and the CLI need: object store, codec, reference cache, engine.

Settings in, components out; the one mapping, shared by `app.container` (which adds coordination and
the use cases) and the CLI commands. Kept light (no boto3/botocore until a store is built, no
services, no redis) so CLI commands start fast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.caches.base import EvictionListener, EvictionReason, ReferenceCache, ignore_eviction
from app.caches.memory import MemoryReferenceCache
from app.domain.keys import delta_extensions
from app.domain.sizes import MiB
from app.engine.codec import DeltaCodec, XDelta3Codec
from app.engine.engine import DeltaEngine
from app.engine.gzip_form import GzipSettings
from app.engine.gzip_stream import ExpandLimits
from app.engine.node_zlib import NodeLocator, NodeSource, no_node
from app.engine.references import ReferenceProvider
from app.observability.metrics import Metrics
from app.settings import CacheSettings, EngineSettings, S3Settings, Settings, default_cache_root
from app.storage.base import ObjectStore
from app.storage.s3_config import S3Options

if TYPE_CHECKING:
    from app.storage.s3 import S3ObjectStore


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class S3Target:
    """Where S3 is, when it is not (only) what Settings say: an embedded SeaweedFS, say."""

    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None
    embedded: bool


def settings_target(s3: S3Settings) -> S3Target:
    """The endpoint and credentials exactly as configured (None: the standard AWS chain)."""
    secret = s3.secret_access_key.get_secret_value() if s3.secret_access_key else None
    return S3Target(s3.endpoint_url, s3.access_key_id, secret, embedded=False)


def s3_options(s3: S3Settings, target: S3Target | None = None) -> S3Options:
    """Every connection setting of `s3`, at `target` (default: as configured)."""
    where = target if target is not None else settings_target(s3)
    return S3Options(
        endpoint_url=where.endpoint_url,
        region=s3.region,
        access_key_id=where.access_key_id,
        secret_access_key=where.secret_access_key,
        addressing_style=s3.addressing_style,
        max_pool_connections=s3.max_pool_connections,
        multipart_threshold_bytes=s3.multipart_threshold_mb * MiB,
        multipart_chunk_bytes=s3.multipart_chunk_mb * MiB,
        connect_timeout=s3.connect_timeout_seconds,
        read_timeout=s3.read_timeout_seconds,
        max_attempts=s3.max_attempts,
        max_retry_wait=s3.max_retry_wait_seconds,
        retry_budget=s3.retry_budget_seconds,
        list_concurrency=s3.list_concurrency,
        https_proxy=s3.https_proxy,
        http_proxy=s3.http_proxy,
        no_proxy=s3.no_proxy,
        ca_bundle=s3.ca_bundle,
    )


def build_store(
    s3: S3Settings, target: S3Target | None = None, *, max_connections: int | None = None
) -> S3ObjectStore:
    """The object store for `s3`; `max_connections` raises its pool (HEAD batches)."""
    from app.storage.factory import open_store  # noqa: PLC0415 - obstore only when a store is built

    options = s3_options(s3, target)
    if max_connections is not None and max_connections > options.max_pool_connections:
        options = replace(options, max_pool_connections=max_connections)
    return open_store(options)


def build_codec(engine: EngineSettings) -> DeltaCodec:
    if engine.codec == "zstd":
        from app.engine.zstd import ZstdPatchCodec  # noqa: PLC0415 - opt-in codec, imported when chosen

        # Opt-in: faster, but deltaglider 6.2.0 cannot read what it writes (marked dg-codec).
        return ZstdPatchCodec(
            memory_budget_bytes=engine.codec_memory_mb * MiB, timeout=engine.codec_timeout_seconds
        )
    return XDelta3Codec(
        level=engine.xdelta_level,
        secondary=engine.xdelta_secondary,
        memory_budget_bytes=engine.codec_memory_mb * MiB,
        timeout=engine.codec_timeout_seconds,
    )


def eviction_counter(metrics: Metrics | None) -> EvictionListener:
    """A cache eviction listener that counts into dg_reference_cache_evictions_total{reason}."""
    if metrics is None:
        return ignore_eviction
    counter = metrics.reference_cache_evictions

    def count(reason: EvictionReason) -> None:
        counter.labels(reason=reason.value).inc()

    return count


def build_reference_cache(
    cache: CacheSettings,
    work_dir: Path | None,
    *,
    persistent_only: bool = False,
    on_evict: EvictionListener = ignore_eviction,
) -> ReferenceCache:
    """The reference cache Settings choose. `persistent_only` (one-shot CLI processes): a disk
    cache only when a later process can reuse it, i.e. unencrypted or under a configured key;
    else a plain memory cache, since a per-process key makes every entry garbage at exit.
    `on_evict` hears every eviction (see `eviction_counter`)."""
    memory_budget = cache.memory_size_mb * MiB
    reusable = cache.backend == "filesystem" and (not cache.encryption or cache.encryption_key is not None)
    if persistent_only and not reusable:
        return MemoryReferenceCache(max_bytes=memory_budget, on_evict=on_evict)
    # Imported here: one-shot CLI commands mostly take the memory branch above, and
    # cryptography and filelock cost tens of ms of every command's start-up.
    from app.caches.encrypted import EncryptedReferenceCache  # noqa: PLC0415
    from app.caches.filesystem import FilesystemReferenceCache  # noqa: PLC0415
    from app.caches.keys import parse_encryption_key  # noqa: PLC0415

    inner: ReferenceCache
    if cache.backend == "memory":
        inner = MemoryReferenceCache(max_bytes=memory_budget, on_evict=on_evict)
    else:
        root = cache.dir if cache.dir is not None else default_cache_root() / "references"
        inner = FilesystemReferenceCache(root=root, max_bytes=cache.disk_size_mb * MiB, on_evict=on_evict)
    if not cache.encryption:
        return inner
    key = parse_encryption_key(cache.encryption_key.get_secret_value()) if cache.encryption_key else None
    if key is None:
        log.info("reference cache encrypted with a per-process key (set DG_CACHE_ENCRYPTION_KEY to keep it)")
    return EncryptedReferenceCache(inner, key, work_dir=work_dir)


def build_engine(
    settings: Settings,
    store: ObjectStore | None = None,
    metrics: Metrics | None = None,
    *,
    persistent_cache_only: bool = False,
) -> DeltaEngine:
    """The delta engine over `store` (default: the S3 store Settings describe), with the codec
    and reference cache Settings choose (`persistent_cache_only`: see `build_reference_cache`).
    Without `metrics` (a CLI command: nobody scrapes it) the engine records none."""
    metrics = metrics if metrics is not None else Metrics(discard=True)
    store = store if store is not None else build_store(settings.s3)
    work_dir = settings.engine.work_dir
    cache = build_reference_cache(
        settings.cache, work_dir, persistent_only=persistent_cache_only, on_evict=eviction_counter(metrics)
    )
    references = ReferenceProvider(store, cache, work_dir=work_dir, metrics=metrics)
    node = build_gzip_node(settings.engine)
    return DeltaEngine(
        store,
        build_codec(settings.engine),
        references,
        max_ratio=settings.engine.max_ratio,
        delta_extensions=delta_extensions(
            settings.engine.delta_extensions, settings.engine.delta_extensions_extra
        ),
        work_dir=work_dir,
        metrics=metrics,
        gzip=build_gzip_settings(settings.engine, node),
        gzip_node=node,
    )


def build_gzip_node(engine: EngineSettings) -> NodeSource:
    """The node recompressor DG_GZIP_NODE selects, probed on first use (reads need it even when
    writing gzip-aware deltas is off)."""
    return NodeLocator(engine.gzip_node, timeout=engine.codec_timeout_seconds)


def build_gzip_settings(engine: EngineSettings, node: NodeSource = no_node) -> GzipSettings | None:
    """Gzip-aware delta settings, None when DG_GZIP_DELTAS is off."""
    if not engine.gzip_deltas:
        return None
    limits = ExpandLimits(engine.gzip_max_expanded_mb * MiB, engine.gzip_max_ratio)
    return GzipSettings(limits, engine.gzip_recipe_seconds, node)
