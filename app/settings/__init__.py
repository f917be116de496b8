"""Settings: the only module that reads the environment. Prefix `DG_`, grouped by concern.

Each group is read from its own prefix so the seed documents' names keep working
(`DG_CACHE_BACKEND`, `DG_CACHE_MEMORY_SIZE_MB`, `DG_CACHE_ENCRYPTION_KEY`, `DG_MAX_RATIO`), and
the standard `AWS_*` variables configure S3. Lower layers receive plain values, never Settings.

The groups live beside this module by concern: `data` (S3, engine, reference cache), `runtime`
(stats, jobs, Redis, auth, HTTP server, logging) and `assets`; `fields` holds what they share
(`setting`, `Secret`), `group` the base class and `convert` the reading and checking of values.
"""

from __future__ import annotations

from dataclasses import field

from app.settings.assets import AssetSettings
from app.settings.convert import FieldSpec, Problem, SettingsError, field_specs
from app.settings.data import CacheSettings, EngineSettings, S3Settings
from app.settings.fields import (
    MIN_TOKEN_LENGTH,
    CommaList,
    Secret,
    default_cache_root,
    parse_tokens,
    setting,
)
from app.settings.group import Group
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
    "FieldSpec", "Group", "HttpSettings", "LogSettings", "Problem", "RedisSettings", "S3Settings",
    "SchedulerSettings", "Secret", "ServerSettings", "Settings", "SettingsError", "StatsSettings",
    "default_cache_root", "field_specs", "parse_tokens", "setting",
]  # fmt: skip


class Settings(Group):
    """Everything configurable, read once. Construct with overrides in tests: Settings(cache=...).

    Each group reads its own variables from the environment when it is built; a bad value in any
    of them raises one SettingsError listing every bad variable of every group."""

    s3: S3Settings = field(default_factory=S3Settings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    stats: StatsSettings = field(default_factory=StatsSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    log: LogSettings = field(default_factory=LogSettings)
    assets: AssetSettings = field(default_factory=AssetSettings)
