"""Settings values read as they were under pydantic: booleans, whole numbers, numbers, lists,
paths, secrets, alternative names (the first listed wins), names in any case; and a bad
environment is refused in one error naming every bad variable once, in the operator's words."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import (
    AuthSettings,
    CacheSettings,
    EngineSettings,
    Group,
    S3Settings,
    SchedulerSettings,
    Secret,
    ServerSettings,
    Settings,
    SettingsError,
    setting,
)
from app.stats.model import StatsMode

SECRET = "s3cr3t-never-echoed"


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return clean_env


def test_every_bad_variable_is_named_once_by_the_cli(env: pytest.MonkeyPatch) -> None:
    bad = {
        "AWS_ENDPOINT_URL": "localhost:9000",
        "DG_S3_MAX_ATTEMPTS": "1.5",
        "DG_S3_CA_BUNDLE": "/nonexistent/ca.pem",
        "DG_MAX_RATIO": "2",
        "DG_XDELTA_LEVEL": "-1",
        "DG_CODEC_TIMEOUT_SECONDS": "0",
        "DG_CACHE_BACKEND": "disk",
        "DG_STATS_FRESH_SECONDS": "soon",
        "DG_WARM_MODES": "quick,fast,slow",
        "dg_redis_url": "http://" + SECRET,
        "DG_API_TOKENS": "{" + SECRET,
        "DG_PORT": "eighty",
        "DG_LOG_LEVEL": "LOUD",
        "DG_LOG_JSON": "maybe",
    }
    for name, value in bad.items():
        env.setenv(name, value)
    done = subprocess.run(
        [sys.executable, "-m", "app", "config", "show"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ), check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    tokens = (
        "glider: DG_API_TOKENS is not valid JSON (Expecting property name enclosed in double quotes at "
        """character 1); e.g. DG_API_TOKENS='{"<a long random token>": ["upload", "read", "admin"]}'"""
    )
    assert done.stderr.splitlines() == [
        "glider: AWS_ENDPOINT_URL must be an http:// or https:// URL with a host; "
        "e.g. AWS_ENDPOINT_URL=http://127.0.0.1:8333",
        "glider: DG_S3_MAX_ATTEMPTS is not a whole number; e.g. DG_S3_MAX_ATTEMPTS=3",
        "glider: DG_S3_CA_BUNDLE names no readable file (/nonexistent/ca.pem); "
        "e.g. DG_S3_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
        "glider: DG_MAX_RATIO must be at most 1.0; e.g. DG_MAX_RATIO=0.5",
        "glider: DG_XDELTA_LEVEL must be at least 0; e.g. DG_XDELTA_LEVEL=3",
        "glider: DG_CODEC_TIMEOUT_SECONDS must be more than 0.0; e.g. DG_CODEC_TIMEOUT_SECONDS=600",
        "glider: DG_CACHE_BACKEND must be one of 'filesystem' or 'memory'; e.g. DG_CACHE_BACKEND=filesystem",
        "glider: DG_STATS_FRESH_SECONDS is not a number; e.g. DG_STATS_FRESH_SECONDS=30",
        "glider: DG_WARM_MODES must be one of 'quick', 'sampled' or 'detailed'; "
        "e.g. DG_WARM_MODES=quick,sampled",
        "glider: DG_REDIS_URL must be a redis://, rediss:// or unix:// URL; e.g. DG_REDIS_URL=redis://127.0.0.1:6379/0",
        tokens,
        "glider: DG_PORT is not a whole number; e.g. DG_PORT=8080",
        "glider: DG_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; e.g. DG_LOG_LEVEL=INFO",
        "glider: DG_LOG_JSON is not a boolean (true or false); e.g. DG_LOG_JSON=true",
    ]
    assert SECRET not in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("FALSE", False), ("Yes", True), ("no", False), ("on", True), ("OFF", False),
     ("1", True), ("0", False), ("t", True), ("f", False), ("Y", True), ("n", False)],
)  # fmt: skip
def test_booleans(env: pytest.MonkeyPatch, text: str, value: bool) -> None:
    env.setenv("DG_CACHE_ENCRYPTION", text)
    assert CacheSettings().encryption is value


@pytest.mark.parametrize("text", ["maybe", "", " yes", "2", "1.0", "truthy"])
def test_not_booleans(env: pytest.MonkeyPatch, text: str) -> None:
    env.setenv("DG_CACHE_ENCRYPTION", text)
    with pytest.raises(SettingsError, match=r"^DG_CACHE_ENCRYPTION is not a boolean \(true or false\)$"):
        CacheSettings()


@pytest.mark.parametrize(
    ("text", "value"), [("9090", 9090), (" 12 ", 12), ("1_000", 1000), ("80.0", 80), ("+3", 3)]
)
def test_whole_numbers(env: pytest.MonkeyPatch, text: str, value: int) -> None:
    env.setenv("DG_PORT", text)
    assert ServerSettings().port == value


@pytest.mark.parametrize("text", ["1.5", "1e3", "0x10", "", "eighty", "1.", "\u0661\u0662"])
def test_not_whole_numbers(env: pytest.MonkeyPatch, text: str) -> None:
    env.setenv("DG_PORT", text)
    with pytest.raises(SettingsError, match=r"^DG_PORT is not a whole number$"):
        ServerSettings()


@pytest.mark.parametrize(("text", "value"), [("0.25", 0.25), (" .5 ", 0.5), ("1e-1", 0.1), ("1", 1.0)])
def test_numbers_and_bounds(env: pytest.MonkeyPatch, text: str, value: float) -> None:
    env.setenv("DG_MAX_RATIO", text)
    assert EngineSettings().max_ratio == value
    for bad, words in (
        ("soon", "is not a number"),
        ("0", "must be more than 0.0"),
        ("nan", "must be at most 1.0"),
    ):
        env.setenv("DG_MAX_RATIO", bad)
        with pytest.raises(SettingsError, match=f"^DG_MAX_RATIO {re.escape(words)}$"):
            EngineSettings()


class _Probe(Group):
    env_prefix = "PROBE_"

    below: float = setting(default=0.5, lt=1, description="a bound no setting uses yet")


def test_less_than(env: pytest.MonkeyPatch) -> None:
    env.setenv("PROBE_BELOW", "1")
    with pytest.raises(SettingsError, match=r"^PROBE_BELOW must be less than 1\.0$"):
        _Probe()
    assert _Probe(below=0.75).below == 0.75


def test_lists_paths_and_secrets(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("DG_WARM_BUCKETS", " a, b,,c ,")
    env.setenv("DG_WARM_MODES", "detailed,quick")
    env.setenv("DG_CACHE_DIR", str(tmp_path / "refs"))
    env.setenv("DG_CACHE_ENCRYPTION_KEY", SECRET)
    scheduler, cache = SchedulerSettings(), CacheSettings()
    assert scheduler.warm_buckets == ("a", "b", "c")
    assert scheduler.warm_modes == (StatsMode.DETAILED, StatsMode.QUICK)
    assert cache.dir == tmp_path / "refs"
    assert isinstance(cache.encryption_key, Secret)
    assert cache.encryption_key.get_secret_value() == SECRET
    assert SECRET not in repr(cache) + str(cache.encryption_key) + repr(Settings(cache=cache))
    env.setenv("DG_WARM_BUCKETS", '["json", "is", "not", "read"]')
    assert SchedulerSettings().warm_buckets == ('["json"', '"is"', '"not"', '"read"]')


def test_alternative_names_first_listed_wins_in_any_case(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("dg_auth_tokens_file", str(tmp_path / "second"))
    assert AuthSettings().tokens_file == tmp_path / "second"
    env.setenv("Dg_Api_Tokens_File", str(tmp_path / "first"))
    assert AuthSettings().tokens_file == tmp_path / "first"
    env.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    env.setenv("aws_region", "eu-west-1")
    assert S3Settings().region == "eu-west-1"


def test_keyword_values_are_checked_and_replace_checks_again(env: pytest.MonkeyPatch) -> None:
    env.setenv("DG_CACHE_MEMORY_SIZE_MB", "7")
    assert CacheSettings(memory_size_mb=5).memory_size_mb == 5
    with pytest.raises(SettingsError, match=r"^DG_CACHE_MEMORY_SIZE_MB must be at least 1$"):
        CacheSettings(memory_size_mb=0)
    with pytest.raises(SettingsError, match=r"^DG_S3_ENDPOINT_URL must be an http"):
        S3Settings(endpoint_url="localhost")
    settings = Settings(cache=CacheSettings(backend="memory"))
    assert settings.cache.backend == "memory"
    assert settings.cache.memory_size_mb == 7
    changed = dataclasses.replace(settings.s3, endpoint_url=" http://127.0.0.1:9 ")
    assert changed.endpoint_url == "http://127.0.0.1:9"
    with pytest.raises(SettingsError, match="DG_S3_MAX_ATTEMPTS must be at least 1"):
        dataclasses.replace(settings.s3, max_attempts=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.s3.region = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        CacheSettings(memory_size=5)  # type: ignore[call-arg]
