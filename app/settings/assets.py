"""Settings of the consumer-side asset cache (`glider fetch`, `vc`, `prefill`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator

from app.settings.fields import CommaList, Group, http_url, split_commas


class AssetSettings(Group):
    env_prefix = "DG_ASSET_"

    cache_dir: Path | None = Field(
        None, description="Asset cache directory; unset: <user cache>/glider/assets"
    )
    max_age_seconds: float = Field(
        86400.0, ge=0, description="Revalidate a local copy older than this (0: on every fetch)"
    )
    max_stale_seconds: float = Field(
        7 * 86400.0, ge=0, description="Use a local copy up to this old when S3 is unreachable"
    )
    immutable_buckets: CommaList = Field(
        (),
        validation_alias=AliasChoices("DG_IMMUTABLE_BUCKETS", "DG_ASSET_IMMUTABLE_BUCKETS"),
        description="Buckets whose assets are never revalidated",
    )
    prefill_concurrency: int = Field(8, ge=1, description="Parallel downloads of `glider prefill`")
    server_url: str | None = Field(None, description="Fetch assets through this Glider server instead of S3")
    server_token: SecretStr | None = Field(None, description="Bearer token (read scope) for server_url")

    _url = field_validator("server_url", mode="before")(http_url)

    _split = field_validator("immutable_buckets", mode="before")(split_commas)
