"""Gzip recipes: header parsing, the candidate order, recipe text, expansion limits, the search."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zlib
from pathlib import Path

import pytest

from app.engine.gzip_recipe import candidates, find_by_hash, find_recipe, implied_levels
from app.engine.gzip_stream import ExpandLimits, Recipe, expand, parse_header, read_header, recompress
from app.errors import DecompressionBomb
from tests.support.gzips import full_header, tar_versions, zlib_gzip


def test_header_fields_are_parsed_and_kept_verbatim() -> None:
    head = full_header(b"pkg.tar", 1234, extra=b"XY\x01\x00z", comment=b"hi", os_byte=3)
    parsed = parse_header(head + b"\x03\x00rest")
    assert parsed is not None
    assert (parsed.raw, parsed.mtime, parsed.os, parsed.has_name) == (head, 1234, 3, True)


@pytest.mark.parametrize(
    "data", [b"", b"PK\x03\x04" + b"\x00" * 20, b"\x1f\x8b\x08\x08" + b"\x00" * 6 + b"noterm"]
)
def test_non_gzip_or_incomplete_headers_are_none(data: bytes) -> None:
    assert parse_header(data) is None


def test_the_header_implied_level_comes_first() -> None:
    assert next(candidates(2)) == Recipe(9)
    assert next(candidates(4)) == Recipe(1)
    assert next(candidates(0)) == Recipe(6)
    assert implied_levels(0)[0] == 6


def test_candidates_cover_every_zlib_setting_once() -> None:
    listed = list(candidates(0))
    assert len(listed) == len(set(listed)) == 10 * 7 * 9 * 5


def test_recipe_text_round_trips_and_rejects_nonsense() -> None:
    recipe = Recipe(7, 12, 9, 1)
    assert Recipe.decode(recipe.encode()) == recipe
    for bad in ("zlib;level=10;wbits=15;memlevel=8;strategy=0", "bzip2;level=9", "zlib;level=x", ""):
        assert Recipe.decode(bad) is None


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("level", [1, 6, 9])
def test_pythons_tarfile_streams_are_found_at_the_first_try_and_rebuilt(tmp_path: Path, level: int) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=level) as tar:
        info = tarfile.TarInfo("a.txt")
        body = b"hello world " * 5000
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    original = _write(tmp_path, "a.tar.gz", buffer.getvalue())
    expanded = expand(original, tmp_path / "raw", ExpandLimits(1 << 30, 1000), "a")
    assert expanded is not None
    sha = hashlib.sha256(original.read_bytes()).hexdigest()
    recipe = find_recipe(tmp_path / "raw", original, expanded, 5.0, sha)
    assert recipe == Recipe(level)
    assert recompress(tmp_path / "raw", recipe, expanded.header.raw, tmp_path / "again") == sha
    assert find_recipe(tmp_path / "raw", original, expanded, 5.0, "0" * 64) is None  # hash proof counts


def test_expand_takes_a_header_already_read(tmp_path: Path) -> None:
    original = _write(tmp_path, "a.gz", zlib_gzip(b"data " * 1000))
    header = read_header(original)
    assert header is not None
    given = expand(original, tmp_path / "given", ExpandLimits(1 << 30, 1000), "a", header=header)
    assert given is not None
    assert given.header is header  # taken as given, not parsed again
    assert given == expand(original, tmp_path / "read", ExpandLimits(1 << 30, 1000), "a")
    assert (tmp_path / "given").read_bytes() == b"data " * 1000


def test_find_by_hash_recovers_an_npm_style_header(tmp_path: Path) -> None:
    tar = tar_versions(1)[0]
    blob = zlib_gzip(tar, level=9)
    raw = _write(tmp_path, "raw", tar)
    found = find_by_hash(
        raw,
        lambda r: [
            full_header(b"x", 5),
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([2 if r.level == 9 else 0, 3]),
        ],
        hashlib.sha256(blob).hexdigest(),
        len(blob),
        recipes=[Recipe(6), Recipe(9)],
        budget_seconds=10.0,
    )
    assert found is not None
    assert found[0] == Recipe(9)


def test_bombs_are_stopped_by_size_and_by_ratio(tmp_path: Path) -> None:
    zeros = _write(tmp_path, "z.gz", gzip.compress(b"\x00" * (6 << 20), mtime=0))
    with pytest.raises(DecompressionBomb, match="limit"):
        expand(zeros, tmp_path / "out", ExpandLimits(2 << 20, 1000), "z")
    with pytest.raises(DecompressionBomb, match="decompression bomb"):
        expand(zeros, tmp_path / "out", ExpandLimits(1 << 30, 50, ratio_floor=1 << 20), "z")
    assert expand(zeros, tmp_path / "out", ExpandLimits(1 << 30, 50), "z") is not None  # under the floor


def test_unclean_streams_are_none(tmp_path: Path) -> None:
    good = zlib_gzip(b"data " * 1000)
    limits = ExpandLimits(1 << 30, 1000)
    for name, blob in {
        "trailing": good + b"\x00",
        "two-members": good + good,
        "truncated": good[:-3],
        "bad-crc": good[:-8] + b"\x00\x00\x00\x00" + good[-4:],
        "corrupt": good[:12] + b"\xff" * 30 + good[42:],
    }.items():
        assert expand(_write(tmp_path, name, blob), tmp_path / "o", limits, name) is None, name
    assert zlib.decompress(good, 31) == b"data " * 1000
