"""Settings: the only module that reads the environment. Prefix `DG_`, grouped by concern.

Each group is read from its own prefix so the seed documents' names keep working
(`DG_CACHE_BACKEND`, `DG_CACHE_MEMORY_SIZE_MB`, `DG_CACHE_ENCRYPTION_KEY`, `DG_MAX_RATIO`), and
the standard `AWS_*` variables configure S3. Lower layers receive plain values, never Settings.

The groups live beside this module by concern: `data` (S3, engine, reference cache), `runtime`
(stats, jobs, Redis, auth, HTTP server, logging) and `assets`; `fields` holds what they share.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.settings.assets import AssetSettings
from app.settings.data import CacheSettings, EngineSettings, S3Settings
from app.settings.fields import (
    MIN_TOKEN_LENGTH,
    CommaList,
    Group,
    default_cache_root,
    env_names,
    parse_tokens,
)
from app.settings.runtime import (
    AuthSettings,
    HttpSettings,
    LogSettings,
    RedisSettings,
    SchedulerSettings,
    ServerSettings,
    StatsSettings,
)

__all__ = [
    "MIN_TOKEN_LENGTH", "AssetSettings", "AuthSettings", "CacheSettings", "CommaList", "EngineSettings",
    "Group", "HttpSettings", "LogSettings", "RedisSettings", "S3Settings", "SchedulerSettings",
    "ServerSettings", "Settings", "StatsSettings", "default_cache_root", "env_names", "parse_tokens",
]  # fmt: skip


class Settings(BaseModel):
    """Everything configurable, read once. Construct with overrides in tests: Settings(cache=...).

    Each group reads its own variables from the environment when it is built (`Group`)."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    s3: S3Settings = Field(default_factory=S3Settings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    stats: StatsSettings = Field(default_factory=StatsSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    assets: AssetSettings = Field(default_factory=AssetSettings)
