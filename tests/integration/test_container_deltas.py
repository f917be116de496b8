"""bzip2 and xz content deltas on real SeaweedFS with real xdelta3, bzip2, xz and deltaglider 6.2.0.

Each family round-trips byte-exact as a small delta with the compressed first file as reference;
multi-threaded xz (no recipe: a first one is still the reference, as for gzip) and unclean
streams keep today's forms (`no-exact-recipe`); the strict switch keeps them off; deltaglider
fails on these forms (never exit 0 with wrong bytes); stats count the bucket's real bytes over
mixed forms.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine.engine import DeltaEngine
from app.engine.gzip_form import GzipSettings
from app.engine.gzip_stream import ExpandLimits
from app.engine.results import DirectReason, Form, StoredAs
from app.engine.vcdiff import source_was_decompressed
from app.errors import DecompressionBomb, IntegrityError
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.containers import bzip2_tool, python_bz2, python_xz, xz_tool
from tests.support.engine import deltaglider_uploads, make_engine, write
from tests.support.engine import run_deltaglider as run_deltaglider_cli
from tests.support.gzips import tar_versions, zlib_gzip
from tests.support.stats import assert_stats_count_the_bucket

pytestmark = pytest.mark.integration

ON = GzipSettings(ExpandLimits(1 << 30, 250.0), 30.0)

FAMILIES: dict[str, tuple[Form, str, Callable[[bytes], bytes]]] = {
    "bzip2-tool-9": (Form.BZIP2, ".tar.bz2", lambda d: bzip2_tool(d, 9)),
    "bzip2-tool-1": (Form.BZIP2, ".tar.bz2", lambda d: bzip2_tool(d, 1)),
    "python-bz2-6": (Form.BZIP2, ".tar.bz2", lambda d: python_bz2(d, 6)),
    "xz-tool-6-T1": (Form.XZ, ".tar.xz", lambda d: xz_tool(d, 6)),
    "xz-tool-9e-T1": (Form.XZ, ".tar.xz", lambda d: xz_tool(d, 9, extreme=True, check="crc32")),
    "python-lzma-2": (Form.XZ, ".tar.xz", lambda d: python_xz(d, 2)),
}


def engine_with(store: S3ObjectStore, tmp_path: Path, gzip: GzipSettings | None = ON) -> DeltaEngine:
    return make_engine(store, tmp_path / "work", gzip=gzip)


def run_deltaglider(seaweed: S3Endpoint, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_deltaglider_cli(seaweed.env(), *args)


def assert_reads_back(engine: DeltaEngine, bucket: str, keys: dict[str, bytes], tmp_path: Path) -> None:
    for key, blob in keys.items():
        out = tmp_path / "out"
        engine.get(bucket, key, out)
        assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(blob).hexdigest(), key


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_is_a_small_exact_content_delta(
    family: str, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    form, suffix, make = FAMILIES[family]
    engine = engine_with(s3_store, tmp_path)
    blobs = {f"rel/pkg-{n}{suffix}": make(tar) for n, tar in enumerate(tar_versions(3, seed=41))}
    results = [engine.put(bucket, key, write(tmp_path, "up", blob)) for key, blob in blobs.items()]
    first, *later = blobs.values()
    assert results[0].stored_as is StoredAs.REFERENCE
    assert s3_store.head(bucket, "rel/reference.bin").size == len(first)  # compressed bytes, verbatim
    for result, blob in zip(results[1:], later, strict=True):
        assert (result.stored_as, result.form, result.reason) == (StoredAs.DELTA, form, None)
        assert result.stored_size <= 0.15 * len(blob), (family, result.stored_size, len(blob))
    meta = s3_store.head(bucket, f"rel/pkg-1{suffix}.delta").metadata
    assert meta["dg-form"] == form.value
    assert meta["dg-file-sha256"] == hashlib.sha256(later[0]).hexdigest()
    assert meta["dg-container-recipe"].startswith(form.value)
    fresh = engine_with(s3_store, tmp_path / "fresh")  # cold cache: expands the reference again
    assert_reads_back(fresh, bucket, blobs, tmp_path)


def _fallbacks() -> dict[str, list[bytes]]:
    tars = tar_versions(2, seed=43)
    return {
        "xz-T0-multithreaded": [xz_tool(t, 6, threads=0) for t in tars],
        "xz-multi-stream": [xz_tool(t[:9000]) + xz_tool(t[9000:]) for t in tars],
        "xz-truncated": [xz_tool(t)[:-40] for t in tars],
        "bzip2-multi-stream": [bzip2_tool(t[:9000]) + bzip2_tool(t[9000:]) for t in tars],
        "bzip2-corrupt": [(b := bzip2_tool(t))[:100] + b"\x00" * 64 + b[164:] for t in tars],
    }


@pytest.mark.parametrize("case", sorted(_fallbacks()))
def test_each_fallback_keeps_todays_forms_and_reads_back_exact(
    case: str, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = engine_with(s3_store, tmp_path)
    blobs = {f"fb/pkg-{n}.tar.xz": blob for n, blob in enumerate(_fallbacks()[case])}
    results = [engine.put(bucket, key, write(tmp_path, "up", blob)) for key, blob in blobs.items()]
    no_recipe = (StoredAs.DIRECT, DirectReason.NO_EXACT_RECIPE, Form.PLAIN)
    if case == "xz-T0-multithreaded":  # a clean stream: the reference verbatim, as for gzip
        assert [(r.stored_as, r.reason, r.form) for r in results] == [
            (StoredAs.REFERENCE, None, Form.PLAIN),
            no_recipe,
        ]
    else:
        assert [(r.stored_as, r.reason, r.form) for r in results] == [no_recipe] * 2
    assert_reads_back(engine, bucket, blobs, tmp_path)


def test_bombs_are_refused_and_nothing_is_written(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = engine_with(s3_store, tmp_path, GzipSettings(ExpandLimits(4 << 20, 250.0), 3.0))
    for name, blob in (
        ("a.tar.bz2", python_bz2(b"\x00" * (8 << 20))),
        ("a.tar.xz", python_xz(b"\x00" * (8 << 20))),
    ):
        with pytest.raises(DecompressionBomb, match="4,194,304-byte limit"):
            engine.put(bucket, f"bomb/{name}", write(tmp_path, name, blob))
    assert list(s3_store.iter_objects(bucket)) == []


def test_strict_switch_keeps_bzip2_and_xz_to_deltaglider_forms(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = engine_with(s3_store, tmp_path, gzip=None)
    tars = tar_versions(2, seed=45)
    blobs = {f"s/p-{n}.tar.bz2": bzip2_tool(t) for n, t in enumerate(tars)}
    blobs |= {f"s/p-{n}.tar.xz": xz_tool(t) for n, t in enumerate(tars)}
    results = [engine.put(bucket, key, write(tmp_path, "up", blob)) for key, blob in blobs.items()]
    assert [(r.stored_as, r.reason) for r in results] == [
        (StoredAs.DIRECT, DirectReason.COMPRESSED_STREAM)
    ] * 4
    assert all("dg-form" not in o.metadata for o in map(lambda k: s3_store.head(bucket, k), blobs))
    for key, blob in blobs.items():
        done = run_deltaglider(seaweed, "cp", f"s3://{bucket}/{key}", tmp_path / "dg")
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "dg").read_bytes() == blob


@pytest.mark.parametrize("suffix", [".tar.bz2", ".tar.xz"])
def test_deltaglider_reading_these_forms_fails_never_wrong_bytes(
    suffix: str, seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = engine_with(s3_store, tmp_path)
    make = bzip2_tool if suffix == ".tar.bz2" else xz_tool
    blobs = [make(tar) for tar in tar_versions(2, seed=47)]
    results = [engine.put(bucket, f"g/p-{n}{suffix}", write(tmp_path, "up", b)) for n, b in enumerate(blobs)]
    assert results[1].form is Form(suffix.rsplit(".", 1)[1].replace("bz2", "bzip2"))
    dest = tmp_path / "dg-1"
    done = run_deltaglider(seaweed, "cp", f"s3://{bucket}/g/p-1{suffix}", dest)
    wrong = dest.exists() and dest.read_bytes() != blobs[1]
    assert done.returncode != 0, f"deltaglider exited 0 (wrong bytes: {wrong})"


def test_stats_count_the_bucket_bytes_over_mixed_forms(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = engine_with(s3_store, tmp_path)
    tars = tar_versions(3, seed=49)
    uploads = {f"bz/p-{n}.tar.bz2": bzip2_tool(t) for n, t in enumerate(tars)}
    uploads |= {f"xz/p-{n}.tar.xz": xz_tool(t) for n, t in enumerate(tars)}
    uploads |= {f"gz/p-{n}.tar.gz": zlib_gzip(t) for n, t in enumerate(tars)}
    uploads |= {"mt/p-0.tar.xz": xz_tool(tars[0], threads=0), "notes.txt": b"notes\n" * 100}
    results = [engine.put(bucket, key, write(tmp_path, "up", blob)) for key, blob in uploads.items()]
    assert {r.form for r in results} == {Form.PLAIN, Form.GZIP, Form.BZIP2, Form.XZ}
    assert_stats_count_the_bucket(s3_store, bucket, uploads, [r.stored_as for r in results])


def test_a_bzip2_upload_deltas_against_an_xz_reference(
    s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """The delta is between contents, so a deltaspace may mix formats; each file comes back as it was."""
    engine = engine_with(s3_store, tmp_path)
    tars = tar_versions(2, seed=51)
    blobs = {"mix/p-0.tar.xz": xz_tool(tars[0]), "mix/p-1.tar.bz2": bzip2_tool(tars[1])}
    results = [engine.put(bucket, key, write(tmp_path, "up", blob)) for key, blob in blobs.items()]
    assert (results[1].stored_as, results[1].form) == (StoredAs.DELTA, Form.BZIP2)
    assert_reads_back(engine_with(s3_store, tmp_path / "fresh"), bucket, blobs, tmp_path)


@pytest.mark.parametrize(
    ("recipe", "error"),
    [
        ("xz;preset=5;extreme=0;check=4", "not served"),
        ("xz;preset=99;extreme=0;check=4", "unknown xz recipe"),
    ],
)
def test_a_tampered_recipe_is_an_integrity_error_and_nothing_is_served(
    recipe: str, error: str, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    engine = engine_with(s3_store, tmp_path)
    for n, tar in enumerate(tar_versions(2, seed=53)):
        engine.put(bucket, f"t/p-{n}.tar.xz", write(tmp_path, "up", xz_tool(tar)))
    meta = dict(s3_store.head(bucket, "t/p-1.tar.xz.delta").metadata) | {"dg-container-recipe": recipe}
    s3_store.put_bytes(bucket, "t/p-1.tar.xz.delta", s3_store.get_bytes(bucket, "t/p-1.tar.xz.delta"), meta)
    dest = tmp_path / "never"
    with pytest.raises(IntegrityError, match=error):
        engine.get(bucket, "t/p-1.tar.xz", dest)
    assert not dest.exists()


@pytest.mark.parametrize("suffix", [".tar.bz2", ".tar.xz"])
def test_glider_reads_deltaglider_bzip2_and_xz_deltas_byte_exact(
    suffix: str, seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    """deltaglider diffed these decompressed (xdelta3 without -D); it recompresses on read."""
    make = (lambda d: bzip2_tool(d, 6)) if suffix == ".tar.bz2" else (lambda d: xz_tool(d, 6))
    uploads = {f"dg/pkg-{n}{suffix}": make(tar) for n, tar in enumerate(tar_versions(3, seed=55))}
    deltaglider_uploads(seaweed.env(), bucket, uploads, tmp_path)
    keys = {o.key: o.size for o in s3_store.iter_objects(bucket)}
    assert f"dg/pkg-1{suffix}.delta" in keys, keys
    (tmp_path / "d").write_bytes(s3_store.get_bytes(bucket, f"dg/pkg-1{suffix}.delta"))
    assert source_was_decompressed(tmp_path / "d")  # only the rescue rebuilds it exactly
    own = run_deltaglider(seaweed, "cp", f"s3://{bucket}/dg/pkg-1{suffix}", tmp_path / "own")
    # It recompresses with the tools' defaults: bzip2 -9 is not this -6 file (xz -6 happens to be).
    assert (own.returncode == 0) is (suffix == ".tar.xz"), own.stderr
    engine = engine_with(s3_store, tmp_path)
    assert_reads_back(engine, bucket, uploads, tmp_path)
