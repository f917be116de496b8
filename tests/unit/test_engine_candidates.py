"""Delta candidates: the built-in list (zip-family packages included), the extra list, the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.components import build_gzip_settings
from app.domain.keys import DEFAULT_DELTA_EXTENSIONS, delta_extensions, is_delta_candidate
from app.settings import EngineSettings

ZIP_FAMILY = (
    ".whl",
    ".egg",
    ".nupkg",
    ".aar",
    ".apk",
    ".aab",
    ".ipa",
    ".vsix",
    ".xpi",
    ".jar",
    ".war",
    ".ear",
)


@pytest.mark.parametrize("ext", ZIP_FAMILY)
def test_zip_family_packages_are_built_in_candidates(ext: str) -> None:
    assert is_delta_candidate(f"pkg-1.0{ext.upper()}")
    assert ext in DEFAULT_DELTA_EXTENSIONS


def test_extra_extensions_add_to_the_built_in_list() -> None:
    chosen = delta_extensions((), ("pex", ".CRATE", ".whl"))
    assert chosen[: len(DEFAULT_DELTA_EXTENSIONS)] == DEFAULT_DELTA_EXTENSIONS
    assert chosen[len(DEFAULT_DELTA_EXTENSIONS) :] == (".pex", ".crate")
    assert is_delta_candidate("tool-2.pex", chosen)
    assert not is_delta_candidate("tool-2.pex")


def test_replacing_list_and_extra_list_combine() -> None:
    assert delta_extensions((".zip",), (".pex",)) == (".zip", ".pex")


def test_settings_read_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DG_DELTA_EXTENSIONS_EXTRA", ".pex, .crate")
    monkeypatch.setenv("DG_GZIP_DELTAS", "false")
    engine = EngineSettings()
    assert engine.delta_extensions_extra == (".pex", ".crate")
    assert build_gzip_settings(engine) is None


def test_readme_prints_the_built_in_list() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    listed = readme.split("the built-in list:", 1)[1].split("`", 2)[1].split()
    assert tuple(listed) == DEFAULT_DELTA_EXTENSIONS
