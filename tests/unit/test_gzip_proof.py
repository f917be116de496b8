"""The streamed recipe proof: proven only on an exact match, fails early, never blocks its feeder."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from app.engine.gzip_form import GzipSettings, prepare_upload
from app.engine.gzip_proof import PendingRecipe, StreamProof
from app.engine.gzip_stream import CHUNK, ExpandLimits, Recipe, parse_header
from tests.support.gzips import late_divergent_gzip, tar_versions, zlib_gzip

SETTINGS = GzipSettings(ExpandLimits(1 << 30, 250.0), 5.0)


def _data() -> bytes:
    return tar_versions(1, seed=3, files=50, size=30_000)[0]  # over 2 MiB: three pieces


def _pieces(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def _feed_all(proof: StreamProof, pieces: list[bytes]) -> None:
    for piece in pieces:
        proof.feed(piece)
    proof.finish()


def _proof(tmp_path: Path, blob: bytes, recipe: Recipe, sha: str | None = None) -> StreamProof:
    path = tmp_path / "up.tar.gz"
    path.write_bytes(blob)
    header = parse_header(blob)
    assert header is not None
    return StreamProof(path, header, recipe, sha or hashlib.sha256(blob).hexdigest())


def test_the_right_recipe_is_proven_from_streamed_pieces(tmp_path: Path) -> None:
    data = _data()
    proof = _proof(tmp_path, zlib_gzip(data, level=6), Recipe(6))
    _feed_all(proof, _pieces(data))
    assert proof.wait() is True
    assert proof.failed is False
    assert proof.wait_failed(timeout=0) is False  # a proven proof never reports a failure


@pytest.mark.parametrize("case", ["wrong-level", "wrong-sha", "missing-piece", "late-divergence"])
def test_anything_but_an_exact_match_is_not_proven(tmp_path: Path, case: str) -> None:
    data = _data()
    blob = late_divergent_gzip(data) if case == "late-divergence" else zlib_gzip(data, level=6)
    recipe = Recipe(1) if case == "wrong-level" else Recipe(6)
    proof = _proof(tmp_path, blob, recipe, "0" * 64 if case == "wrong-sha" else None)
    _feed_all(proof, _pieces(data)[:-1] if case == "missing-piece" else _pieces(data))
    assert proof.wait() is False
    assert proof.failed is True


def test_a_failed_proof_stops_early_and_never_blocks_its_feeder(tmp_path: Path) -> None:
    data = _data()
    proof = _proof(tmp_path, zlib_gzip(data, level=6), Recipe(1))
    proof.feed(_pieces(data)[0])
    assert proof.wait_failed(timeout=10)  # decided on the first piece, before the rest arrived
    assert proof.failed
    began = time.monotonic()
    _feed_all(proof, _pieces(data) * 20)  # far more than the queue holds
    assert time.monotonic() - began < 5


def test_abort_ends_the_thread_mid_stream(tmp_path: Path) -> None:
    data = _data()
    proof = _proof(tmp_path, zlib_gzip(data, level=6), Recipe(6))
    proof.feed(_pieces(data)[0])
    proof.abort()
    assert proof.wait() is False
    assert not [t for t in threading.enumerate() if t.name == "gzip-proof"]


def test_pending_recipe_searches_the_others_once_when_the_streamed_one_fails(tmp_path: Path) -> None:
    data = _data()
    proof = _proof(tmp_path, zlib_gzip(data, level=6), Recipe(1))
    _feed_all(proof, _pieces(data))
    calls: list[Recipe | None] = []
    pending = PendingRecipe(proof, lambda skip: calls.append(skip) or Recipe(6))
    assert (pending.result(), pending.result()) == (Recipe(6), Recipe(6))
    assert calls == [Recipe(1)]  # the failed candidate is skipped, the search runs once
    assert pending.likely is False


@pytest.mark.parametrize(
    ("level", "xfl_level", "expected"),
    [(6, 6, Recipe(6)), (6, 9, Recipe(6)), (1, 1, Recipe(1))],
)
def test_prepare_upload_proves_the_recipe_streamed_or_searched(
    tmp_path: Path, level: int, xfl_level: int, expected: Recipe
) -> None:
    """xfl_level != level: the header implies the wrong level, so the search finds the right one."""
    data = _data()
    blob = zlib_gzip(data, level=level)
    xfl = 2 if xfl_level == 9 else 4 if xfl_level == 1 else 0
    blob = blob[:8] + bytes([xfl]) + blob[9:]
    path = tmp_path / "up.tar.gz"
    path.write_bytes(blob)
    sha = hashlib.sha256(blob).hexdigest()
    with prepare_upload(path, sha, SETTINGS, tmp_path, "test") as prepared:
        assert prepared is not None
        assert prepared.recipe.result() == expected
        assert prepared.raw.read_bytes() == data
    assert not [t for t in threading.enumerate() if t.name == "gzip-proof"]


@pytest.mark.parametrize("prove", [True, False])
def test_a_reference_to_be_starts_no_proof_and_searches_only_when_asked(tmp_path: Path, prove: bool) -> None:
    """prove=False (a first version, stored verbatim) spends no deflate unless the recipe is asked
    for (the writer lost the race to create reference.bin and needs a delta after all)."""
    data = _data()
    blob = zlib_gzip(data, level=6)
    path = tmp_path / "up.tar.gz"
    path.write_bytes(blob)
    with prepare_upload(
        path, hashlib.sha256(blob).hexdigest(), SETTINGS, tmp_path, "t", prove=prove
    ) as prepared:
        assert prepared is not None
        assert prepared.recipe.likely is prove  # the streamed proof runs only when asked to prove
        assert prepared.raw.read_bytes() == data
        assert prepared.recipe.result() == Recipe(6)


def test_prepare_upload_of_a_late_divergent_stream_finds_no_recipe(tmp_path: Path) -> None:
    blob = late_divergent_gzip(_data())
    path = tmp_path / "up.tar.gz"
    path.write_bytes(blob)
    quick = GzipSettings(ExpandLimits(1 << 30, 250.0), 0.5)
    with prepare_upload(path, hashlib.sha256(blob).hexdigest(), quick, tmp_path, "test") as prepared:
        assert prepared is not None
        assert prepared.recipe.result() is None
