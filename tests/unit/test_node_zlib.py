"""Locating node's zlib, the node-zlib recipe strings and search order, with the real node."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from app.engine.gzip_recipe import candidates
from app.engine.gzip_stream import FAMILY_NODE, Recipe, Totals, deflate_stream
from app.engine.node_zlib import NodeLocator, NodeZlib, is_fork, locate
from app.errors import RecompressorUnavailable


def test_locate_defaults_to_node_on_path_with_its_forked_zlib() -> None:
    found = locate(None)
    assert found is not None
    assert is_fork(found.zlib_version), found.zlib_version


def test_locate_empty_disables_and_a_missing_binary_is_off() -> None:
    assert locate("") is None
    assert locate("   ") is None
    assert locate("/nonexistent/node") is None


def test_stock_zlib_version_is_not_a_fork() -> None:
    assert not is_fork("1.3.1")
    assert is_fork("1.3.1-e00f703")


def test_node_recipe_strings_round_trip_and_stock_ones_keep_their_form() -> None:
    node = Recipe(9, 15, 8, 0, FAMILY_NODE)
    assert node.encode() == "node-zlib;level=9;wbits=15;memlevel=8;strategy=0"
    assert Recipe.decode(node.encode()) == node
    assert Recipe(6).encode() == "zlib;level=6;wbits=15;memlevel=8;strategy=0"
    assert Recipe.decode("bzip;level=9;wbits=15;memlevel=8;strategy=0") is None


def test_node_candidates_follow_stock_defaults_and_precede_rare_stock_settings() -> None:
    without = list(candidates(2))
    assert all(r.family == "zlib" for r in without)
    order = list(candidates(2, node=True))
    first_node = next(i for i, r in enumerate(order) if r.family == FAMILY_NODE)
    assert order[first_node] == Recipe(9, 15, 8, 0, FAMILY_NODE)
    assert all(r.family == "zlib" and r.wbits == 15 and r.strategy == 0 for r in order[:first_node])
    assert Recipe(6, 15, 8, 1) in order[first_node:]  # rarer stock settings come after
    assert len([r for r in order if r.family == FAMILY_NODE]) == 20


def test_node_deflate_inflates_back_and_a_deadline_kills_it(tmp_path: Path) -> None:
    node = locate(None)
    assert node is not None
    raw = tmp_path / "raw"
    raw.write_bytes(b"glider " * 200_000)
    totals = Totals()
    body = b"".join(deflate_stream(raw, Recipe(9, 15, 8, 0, FAMILY_NODE), totals, node=node))
    assert zlib.decompress(body, -15) == raw.read_bytes()
    assert totals.size == raw.stat().st_size
    hung = tmp_path / "hung-node"
    hung.write_text("#!/bin/sh\nexec sleep 30\n")
    hung.chmod(0o755)
    with pytest.raises(RecompressorUnavailable, match="deadline"):
        b"".join(NodeZlib(str(hung), "1.3.1-x", timeout=0.5).deflate((9, 15, 8, 0), iter([b"x" * 10])))


def test_a_node_recipe_without_node_is_refused_clearly(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.write_bytes(b"x")
    with pytest.raises(RecompressorUnavailable, match="DG_GZIP_NODE"):
        list(deflate_stream(raw, Recipe(9, 15, 8, 0, FAMILY_NODE), Totals()))


def test_a_node_with_stock_zlib_is_used_only_when_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's nodejs links the system zlib: as the default it adds nothing, so it is skipped."""
    stock = tmp_path / "node"
    stock.write_text("#!/bin/sh\necho 1.2.13\n")
    stock.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert locate(None) is None
    named = locate(str(stock))
    assert named is not None
    assert named.zlib_version == "1.2.13"


def test_the_locator_runs_node_once_and_only_when_first_asked(tmp_path: Path) -> None:
    """Building an engine must not start node (a `glider cp` of a zip never needs it)."""
    runs = tmp_path / "runs"
    counting = tmp_path / "node"
    counting.write_text(f"#!/bin/sh\necho run >> {runs}\necho 1.3.1-e00f703\n")
    counting.chmod(0o755)
    locator = NodeLocator(str(counting))
    assert not runs.exists()
    first = locator()
    assert first is not None
    assert first.zlib_version == "1.3.1-e00f703"
    assert locator() is first
    assert runs.read_text().splitlines() == ["run"]
    assert NodeLocator("/nonexistent/node")() is None
