"""Settings of the consumer-side asset cache (`glider fetch`, `vc`, `prefill`)."""

from __future__ import annotations

from pathlib import Path

from app.settings.fields import CommaList, Secret, http_url, setting
from app.settings.group import Group


class AssetSettings(Group):
    env_prefix = "DG_ASSET_"

    cache_dir: Path | None = setting(
        default=None, description="Asset cache directory; unset: <user cache>/glider/assets"
    )
    max_age_seconds: float = setting(
        default=86400.0, ge=0, description="Revalidate a local copy older than this (0: on every fetch)"
    )
    max_stale_seconds: float = setting(
        default=7 * 86400.0, ge=0, description="Use a local copy up to this old when S3 is unreachable"
    )
    immutable_buckets: CommaList = setting(
        default=(),
        names=("DG_IMMUTABLE_BUCKETS", "DG_ASSET_IMMUTABLE_BUCKETS"),
        description="Buckets whose assets are never revalidated",
    )
    prefill_concurrency: int = setting(default=8, ge=1, description="Parallel downloads of `glider prefill`")
    server_url: str | None = setting(
        default=None, check=http_url, description="Fetch assets through this Glider server instead of S3"
    )
    server_token: Secret | None = setting(
        default=None, description="Bearer token (read scope) for server_url"
    )
