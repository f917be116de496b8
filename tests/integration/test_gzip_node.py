"""The node-zlib recipe family: npm tarballs made by node's zlib, with the real node and npm.

Tarballs come from `npm pack --offline` of a generated package (nothing is downloaded); stock
zlib reproduces none of them, node's zlib does.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import pytest

from app.api.problems import kind_for
from app.engine.engine import DeltaEngine
from app.engine.gzip_form import GzipSettings
from app.engine.gzip_stream import ExpandLimits
from app.engine.node_zlib import NodeZlib, locate
from app.engine.results import DirectReason, Form, PutResult, StoredAs
from app.errors import IntegrityError, RecompressorUnavailable
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.engine import deltaglider_uploads, make_engine, write
from tests.support.gzips import tar_versions, zlib_gzip
from tests.support.npm_pack import NODE, npm_pack_versions

pytestmark = pytest.mark.integration

LIMITS = ExpandLimits(1 << 30, 250.0)


def node_zlib() -> NodeZlib:
    found = locate(None)
    assert found is not None, "node with its bundled (Chromium) zlib is needed (scripts/system-deps.sh)"
    return found


def engine_with(store: S3ObjectStore, work: Path, node: NodeZlib | None) -> DeltaEngine:
    return make_engine(store, work, gzip=GzipSettings(LIMITS, 10.0, lambda: node))


def put_all(
    engine: DeltaEngine, bucket: str, prefix: str, blobs: list[bytes], tmp_path: Path
) -> list[PutResult]:
    """`blobs` stored in order as `prefix/p-N.tgz`."""
    return [
        engine.put(bucket, f"{prefix}/p-{n}.tgz", write(tmp_path, "up.tgz", b)) for n, b in enumerate(blobs)
    ]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    return npm_pack_versions(tmp_path_factory.mktemp("npm"), 3)


def test_npm_pack_series_is_exact_node_zlib_gzip_deltas(
    packed: list[bytes], s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    node = node_zlib()
    stock = engine_with(s3_store, tmp_path / "stock", None)
    without = put_all(stock, bucket, "stock", packed, tmp_path)
    assert [(r.stored_as, r.reason) for r in without[1:]] == [
        (StoredAs.DIRECT, DirectReason.NO_EXACT_RECIPE)
    ] * 2

    engine = engine_with(s3_store, tmp_path / "node", node)
    results = put_all(engine, bucket, "npm", packed, tmp_path)
    assert results[0].stored_as is StoredAs.REFERENCE
    for result, blob in zip(results[1:], packed[1:], strict=True):
        assert (result.stored_as, result.form, result.reason) == (StoredAs.DELTA, Form.GZIP, None)
        assert result.stored_size <= 0.15 * len(blob), (result.stored_size, len(blob))
    meta = s3_store.head(bucket, "npm/p-2.tgz.delta").metadata
    assert meta["dg-gzip-recipe"].startswith("node-zlib;level=")
    assert meta["dg-gzip-zlib"] == f"node {node.zlib_version}"
    fresh = engine_with(s3_store, tmp_path / "fresh", node)  # cold cache
    for n, blob in enumerate(packed):
        out = tmp_path / f"out-{n}"
        fresh.get(bucket, f"npm/p-{n}.tgz", out)
        assert sha(out.read_bytes()) == sha(blob)


def test_node_recipe_without_node_is_503_and_nothing_served(
    packed: list[bytes], s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    put_all(engine_with(s3_store, tmp_path / "w", node_zlib()), bucket, "n", packed[:2], tmp_path)
    reader = engine_with(s3_store, tmp_path / "r", None)
    dest = tmp_path / "never"
    with pytest.raises(RecompressorUnavailable, match="node's zlib") as caught:
        reader.get(bucket, "n/p-1.tgz", dest)
    assert not dest.exists()
    assert kind_for(caught.value).status == 503
    with pytest.raises(RecompressorUnavailable):  # HEAD answers what GET would
        reader.head(bucket, "n/p-1.tgz")
    assert reader.head(bucket, "n/p-0.tgz").size == len(packed[0])  # the reference needs no node


def test_a_different_node_zlib_is_an_integrity_error_never_wrong_bytes(
    packed: list[bytes], s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    put_all(engine_with(s3_store, tmp_path / "w", node_zlib()), bucket, "d", packed[:2], tmp_path)
    # A node whose deflate differs (here: memLevel 9 whatever is asked) stands for another zlib.
    other = tmp_path / "other-node"
    other.write_text(
        f'#!/bin/sh\n[ "$2" = --zlib-version ] && exec {NODE} "$@"\nexec {NODE} "$1" "$2" "$3" 9 "$5"\n'
    )
    other.chmod(0o755)
    reader = engine_with(s3_store, tmp_path / "r", NodeZlib(str(other), "1.3.1-other"))
    dest = tmp_path / "never"
    with pytest.raises(IntegrityError):
        reader.get(bucket, "d/p-1.tgz", dest)
    assert not dest.exists()


def _flushed(data: bytes) -> bytes:
    """A clean gzip stream no recipe rebuilds (a full flush mid-stream), like lodash 4.17.19's."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    half = len(data) // 2
    body = (
        comp.compress(data[:half]) + comp.flush(zlib.Z_FULL_FLUSH) + comp.compress(data[half:]) + comp.flush()
    )
    return (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x13" + body + struct.pack("<II", zlib.crc32(data), len(data))
    )


def test_a_first_version_without_recipe_is_still_the_delta_source(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """Only the new file must be rebuildable: the reference is kept verbatim, its content is
    only the delta's source."""
    tars = tar_versions(3, seed=31)
    blobs = [_flushed(tars[0]), _flushed(tars[1]), zlib_gzip(tars[2], level=6)]
    engine = engine_with(s3_store, tmp_path / "w", None)
    results = put_all(engine, bucket, "l", blobs, tmp_path)
    assert [(r.stored_as, r.form, r.reason) for r in results] == [
        (StoredAs.REFERENCE, Form.PLAIN, None),
        (StoredAs.DIRECT, Form.PLAIN, DirectReason.NO_EXACT_RECIPE),
        (StoredAs.DELTA, Form.GZIP, None),
    ]
    assert results[2].stored_size <= 0.15 * len(blobs[2])
    fresh = engine_with(s3_store, tmp_path / "fresh", None)
    for n, blob in enumerate(blobs):
        out = tmp_path / f"out-{n}"
        fresh.get(bucket, f"l/p-{n}.tgz", out)
        assert out.read_bytes() == blob


def test_glider_rescues_deltaglider_deltas_of_npm_tarballs(
    packed: list[bytes], seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """deltaglider 6.2.0 cannot give these back; Glider rebuilds them with node's zlib."""
    deltaglider_uploads(seaweed.env(), bucket, {f"dg/p-{n}.tgz": b for n, b in enumerate(packed)}, tmp_path)
    assert s3_store.head(bucket, "dg/p-1.tgz.delta").size < len(packed[1]) // 2
    engine = engine_with(s3_store, tmp_path / "r", node_zlib())
    for n, blob in enumerate(packed):
        out = tmp_path / f"out-{n}"
        engine.get(bucket, f"dg/p-{n}.tgz", out)
        assert sha(out.read_bytes()) == sha(blob)
    assert os.path.getsize(tmp_path / "out-2") == len(packed[2])
