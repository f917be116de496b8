"""bzip2 and xz recipes: pure candidate functions, bounded expansion and the byte-exact proof,
against streams made by the real `bzip2`/`xz` tools and by Python's bz2/lzma."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.cli.transfers import put_summary
from app.engine.container_bz2 import Bzip2Codec
from app.engine.container_bz2 import candidates as bz2_candidates
from app.engine.container_kinds import codec_for_head, expand_any
from app.engine.container_stream import ContainerCodec, expand_stream, find_recipe
from app.engine.container_xz import XzCodec, decode
from app.engine.container_xz import candidates as xz_candidates
from app.engine.containers import prepare_compressed
from app.engine.content_delta import Deferred
from app.engine.gzip_form import GzipSettings
from app.engine.gzip_stream import ExpandLimits
from app.engine.results import Form, PutResult, StoredAs
from app.engine.upload_file import Upload
from app.errors import DecompressionBomb
from tests.support.containers import bzip2_tool, python_bz2, python_xz, xz_tool
from tests.support.gzips import tar_versions

LIMITS = ExpandLimits(1 << 30, 250.0)
TAR = tar_versions(1, seed=31, files=40)[0]


def _prove(codec: ContainerCodec, blob: bytes, tmp_path: Path) -> str | None:
    original, raw = tmp_path / "in", tmp_path / "raw"
    original.write_bytes(blob)
    content = expand_stream(original, raw, codec, LIMITS, "t")
    assert content is not None
    assert content.raw_sha256 == hashlib.sha256(TAR).hexdigest()
    return find_recipe(codec, raw, original, 30.0, hashlib.sha256(blob).hexdigest())


@pytest.mark.parametrize("level", range(1, 10))
def test_bzip2_tool_levels_are_rebuilt_exactly(level: int, tmp_path: Path) -> None:
    assert _prove(Bzip2Codec(), bzip2_tool(TAR, level), tmp_path) == f"bzip2;level={level}"


def test_python_bz2_is_rebuilt_exactly(tmp_path: Path) -> None:
    assert _prove(Bzip2Codec(), python_bz2(TAR, 5), tmp_path) == "bzip2;level=5"


@pytest.mark.parametrize(("preset", "extreme", "check", "check_id"), [
    (0, False, "crc64", 4), (1, False, "crc32", 1), (6, False, "crc64", 4), (6, True, "sha256", 10),
    (9, False, "none", 0), (3, False, "crc64", 4),
])  # fmt: skip
def test_xz_tool_single_threaded_presets_are_rebuilt_exactly(
    preset: int, extreme: bool, check: str, check_id: int, tmp_path: Path
) -> None:
    blob = xz_tool(TAR, preset, extreme=extreme, check=check)
    assert _prove(XzCodec(), blob, tmp_path) == f"xz;preset={preset};extreme={int(extreme)};check={check_id}"


def test_python_lzma_is_rebuilt_exactly(tmp_path: Path) -> None:
    assert _prove(XzCodec(), python_xz(TAR, 4), tmp_path) == "xz;preset=4;extreme=0;check=4"


def test_multithreaded_xz_has_no_candidate_and_no_recipe(tmp_path: Path) -> None:
    blob = xz_tool(TAR, 6, threads=0)
    assert xz_candidates(blob[:64]) == []  # its block header records sizes: -T0's encoder
    assert _prove(XzCodec(), blob, tmp_path) is None


def test_candidates_follow_the_headers() -> None:
    assert bz2_candidates(b"BZh7" + b"\x00" * 10) == ["bzip2;level=7"]
    assert bz2_candidates(b"BZh0....") == []
    assert bz2_candidates(b"PK\x03\x04") == []
    head = xz_tool(b"x", 6)[:64]
    assert xz_candidates(head) == [
        f"xz;preset={p};extreme={e};check=4" for e in (0, 1) for p in (6, 5)
    ]  # presets 5 and 6 share the 8 MiB dictionary
    assert xz_candidates(b"\xfd7zXZ\x00") == []
    assert decode("xz;preset=9;extreme=1;check=10") == (9, True, 10)
    for bad in (
        "xz;preset=10;extreme=0;check=4",
        "xz;preset=6",
        "bzip2;level=9",
        "xz;preset=6;extreme=0;check=3",
    ):
        with pytest.raises(ValueError):
            decode(bad)


@pytest.mark.parametrize("case", ["truncated", "multi-stream", "trailing", "corrupt"])
@pytest.mark.parametrize("fmt", ["bzip2", "xz"])
def test_unclean_streams_do_not_expand(fmt: str, case: str, tmp_path: Path) -> None:
    make = (lambda d: bzip2_tool(d, 9)) if fmt == "bzip2" else (lambda d: xz_tool(d, 6))
    blob = make(TAR)
    bad = {
        "truncated": blob[: len(blob) - 50],
        "multi-stream": make(TAR[:5000]) + make(TAR[5000:]),
        "trailing": blob + b"junk",
        "corrupt": blob[:200] + bytes(b ^ 0xFF for b in blob[200:260]) + blob[260:],
    }[case]
    path = tmp_path / "in"
    path.write_bytes(bad)
    codec = codec_for_head(bad[:64])
    assert codec is not None
    assert codec.form == fmt
    assert expand_stream(path, tmp_path / "raw", codec, LIMITS, "t") is None
    assert expand_any(path, tmp_path / "raw", LIMITS, "t") is None


@pytest.mark.parametrize("fmt", ["bzip2", "xz"])
def test_bombs_are_refused_by_size_and_by_ratio(fmt: str, tmp_path: Path) -> None:
    zeros = b"\x00" * (8 << 20)
    path = tmp_path / "bomb"
    path.write_bytes(python_bz2(zeros) if fmt == "bzip2" else python_xz(zeros))
    with pytest.raises(DecompressionBomb, match="4,194,304-byte limit"):
        expand_any(path, tmp_path / "raw", ExpandLimits(4 << 20, 250.0), "bomb")
    with pytest.raises(DecompressionBomb, match="100 times"):
        expand_any(path, tmp_path / "raw", ExpandLimits(1 << 30, 100.0, ratio_floor=1 << 20), "bomb")
    assert (tmp_path / "raw").stat().st_size <= (4 << 20) + (1 << 20)  # stopped while expanding


@pytest.mark.parametrize("form", [Form.GZIP, Form.BZIP2, Form.XZ])
def test_the_cli_line_names_the_content_form(form: Form) -> None:
    result = PutResult("b", "k.tar", StoredAs.DELTA, 1000, 50, "0" * 64, "k.tar.delta", form=form)
    assert put_summary(result) == f"delta, {form.value}-aware, 1,000 bytes stored as 50, 5.0%"


@pytest.mark.parametrize("first_version", [True, False])
def test_a_first_version_searches_its_recipe_only_when_asked(first_version: bool, tmp_path: Path) -> None:
    """A first version becomes reference.bin verbatim: no recompression unless its writer lost the
    race to create the reference and asks for the recipe; a later one is searched up front."""
    blob = bzip2_tool(TAR, 9)
    path = tmp_path / "up.tar.bz2"
    path.write_bytes(blob)
    up = Upload("b", "rel/up.tar.bz2", path, hashlib.sha256(blob).hexdigest(), len(blob))
    settings = GzipSettings(LIMITS, 30.0)
    with prepare_compressed(up, settings, tmp_path, first_version=first_version) as content:
        assert content is not None
        assert content.raw.read_bytes() == TAR
        assert isinstance(content.recipe, Deferred)
        assert content.recipe.searched is not first_version
        assert content.recipe.result() == "bzip2;level=9"
