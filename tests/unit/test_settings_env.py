"""Settings groups read their variables from the environment: names matched case-insensitively,
the first listed alias that is set wins, keyword arguments win over the environment, and lists
are comma-separated (never JSON)."""

from __future__ import annotations

import pytest

from app.settings import EngineSettings, S3Settings, SchedulerSettings, ServerSettings, Settings
from app.stats.model import StatsMode


def test_names_match_case_insensitively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("dg_port", "9090")
    assert Settings().server.port == 9090


def test_first_listed_alias_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://aws.example:1")
    assert S3Settings().endpoint_url == "http://aws.example:1"
    monkeypatch.setenv("DG_S3_ENDPOINT_URL", "http://dg.example:2")
    assert S3Settings().endpoint_url == "http://dg.example:2"


def test_keyword_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DG_PORT", "9090")
    assert ServerSettings(port=7070).port == 7070
    assert ServerSettings().port == 9090


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DG_DELTA_EXTENSIONS_EXTRA", ".pex, .crate,")
    monkeypatch.setenv("DG_WARM_MODES", "detailed")
    assert EngineSettings().delta_extensions_extra == (".pex", ".crate")
    assert SchedulerSettings().warm_modes == (StatsMode.DETAILED,)


def test_unset_variables_keep_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DG_PORT", raising=False)
    monkeypatch.delenv("dg_port", raising=False)
    assert ServerSettings().port == 8080
