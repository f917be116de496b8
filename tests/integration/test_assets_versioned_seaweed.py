"""`glider fetch`, `glider vc ...` and `glider prefill` as processes, on real SeaweedFS."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from app.domain.metadata import direct_metadata
from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint

pytestmark = pytest.mark.integration

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def env(seaweed: S3Endpoint, tmp_path: Path) -> dict[str, str]:
    return seaweed.env() | {
        "DG_ASSET_CACHE_DIR": str(tmp_path / "asset-cache"),
        "DG_CACHE_BACKEND": "memory",
        "DG_ENGINE_WORK_DIR": str(tmp_path / "work"),
    }


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


@pytest.fixture
def glider(env: dict[str, str], tmp_path: Path) -> Run:
    def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command(*args),
            check=False,
            env=env | (extra_env or {}),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_prints_a_local_path_and_passes_local_paths_through(
    glider: Run, bucket: str, s3_store: S3ObjectStore, tmp_path: Path
) -> None:
    s3_store.put_bytes(bucket, "docs/readme.txt", b"hello")
    local = write(tmp_path, "mine.txt", b"local")
    done = glider("fetch", f"s3://{bucket}/docs/readme.txt", str(local), "--max-age", "0")
    assert done.returncode == 0, done.stderr
    cached, passed = done.stdout.splitlines()
    assert Path(cached).read_bytes() == b"hello"
    assert Path(cached).is_relative_to(tmp_path / "asset-cache")
    assert passed == str(local)
    missing = glider("fetch", f"s3://{bucket}/docs/nope.txt")
    assert missing.returncode == 3
    assert "not found" in missing.stderr
    bad = glider("fetch", f"s3://{bucket}/docs/readme.txt", "--max-age", "soon")
    assert bad.returncode == 2


def test_vc_add_update_and_the_manifest_pins(glider: Run, bucket: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    manifest = repo / "assets.json"
    opts = ("--manifest", str(manifest), "--bucket", bucket)
    v1, v2 = b"model weights v1" * 100, b"model weights v2" * 100

    added = glider("vc", "add", "/models/w.bin", str(write(tmp_path, "w1", v1)), *opts)
    assert added.returncode == 0, added.stderr
    assert added.stdout.split() == ["/models/w.bin", "1.0.0", f"s3://{bucket}/models/w.v1.0.0.bin"]
    assert json.loads(manifest.read_text()) == {"/models/w.bin": {"version": "1.0.0", "sha256": sha(v1)}}
    old_checkout = tmp_path / "old" / "assets.json"
    old_checkout.parent.mkdir()
    shutil.copy(manifest, old_checkout)

    updated = glider("vc", "update", "--patch", "/models/w.bin", str(write(tmp_path, "w2", v2)), *opts)
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout.split()[1] == "1.0.1"

    now = glider("vc", "fetch", "/models/w.bin", *opts)
    assert now.returncode == 0, now.stderr
    assert Path(now.stdout.strip()).read_bytes() == v2
    # A newer version in the bucket does not change what the older checkout gets.
    then = glider("vc", "fetch", "/models/w.bin", "--manifest", str(old_checkout), "--bucket", bucket)
    assert then.returncode == 0, then.stderr
    assert Path(then.stdout.strip()).read_bytes() == v1

    again = glider("vc", "add", "/models/w.bin", str(write(tmp_path, "w3", b"x")), *opts)
    assert again.returncode == 4
    assert "vc update" in again.stderr
    no_bump = glider("vc", "update", "/models/w.bin", str(write(tmp_path, "w3", b"x")), *opts)
    assert no_bump.returncode == 2


def test_a_tampered_object_is_refused(
    glider: Run, bucket: str, s3_store: S3ObjectStore, tmp_path: Path, env: dict[str, str]
) -> None:
    manifest = tmp_path / "assets.json"
    opts = ("--manifest", str(manifest), "--bucket", bucket)
    genuine = b"genuine table" * 50
    assert glider("vc", "add", "/t.csv", str(write(tmp_path, "t", genuine)), *opts).returncode == 0
    # Overwrite the version with consistent metadata: the engine's own check passes, the pin does not.
    evil = write(tmp_path, "evil", b"tampered table" * 50)
    s3_store.put_file(
        bucket, "t.v1.0.0.csv", evil, direct_metadata("someone", "t.csv", sha(evil.read_bytes()), 700)
    )
    refused = glider("vc", "fetch", "/t.csv", *opts)
    assert refused.returncode == 5
    assert "pins" in refused.stderr
    assert refused.stdout == ""
    cached = [p for p in (tmp_path / "asset-cache").rglob("*") if p.is_file() and p.name == "t.v1.0.0.csv"]
    assert cached == []


def test_vc_update_racing_itself_one_wins_nothing_overwritten(
    glider: Run, bucket: str, s3_store: S3ObjectStore, tmp_path: Path, env: dict[str, str]
) -> None:
    first = tmp_path / "checkout-a" / "assets.json"
    base = write(tmp_path, "v1", b"base" * 1000)
    seed = glider("vc", "add", "/pkg/app.zip", str(base), "--manifest", str(first), "--bucket", bucket)
    assert seed.returncode == 0, seed.stderr
    second = tmp_path / "checkout-b" / "assets.json"
    second.parent.mkdir()
    shutil.copy(first, second)
    original = first.read_text()

    def start(manifest: Path, data: bytes) -> subprocess.Popen[str]:
        new = write(manifest.parent, "new.zip", data)
        args = command(
            "vc",
            "update",
            "--patch",
            "/pkg/app.zip",
            str(new),
            "--manifest",
            str(manifest),
            "--bucket",
            bucket,
        )
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    payloads = {first: b"from checkout a" * 1000, second: b"from checkout b" * 1000}
    procs = {manifest: start(manifest, data) for manifest, data in payloads.items()}
    outcomes = {manifest: (proc.wait(timeout=120), proc.communicate()[1]) for manifest, proc in procs.items()}

    winners = [m for m, (code, _) in outcomes.items() if code == 0]
    losers = [m for m, (code, _) in outcomes.items() if code != 0]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    code, stderr = outcomes[losers[0]]
    assert code == 4
    assert "already exists" in stderr
    assert "nothing was overwritten" in stderr
    stored = tmp_path / "stored.zip"
    assert s3_store.get_to_file(bucket, "pkg/app.v1.0.1.zip", stored) is not None
    assert stored.read_bytes() == payloads[winners[0]]
    assert losers[0].read_text() == original  # the loser's manifest is untouched
    assert json.loads(winners[0].read_text())["/pkg/app.zip"] == {
        "version": "1.0.1",
        "sha256": sha(payloads[winners[0]]),
    }


def test_prefill_from_a_list_and_from_a_manifest(
    glider: Run, bucket: str, s3_store: S3ObjectStore, tmp_path: Path
) -> None:
    for n in range(5):
        s3_store.put_bytes(bucket, f"ci/fixture-{n}.dat", os.urandom(1000))
    listing = write(
        tmp_path,
        "assets.txt",
        ("# fixtures\n" + "".join(f"s3://{bucket}/ci/fixture-{n}.dat\n" for n in range(5))).encode()
        + f"s3://{bucket}/ci/missing.dat\n".encode(),
    )
    done = glider("prefill", "--list", str(listing), "--concurrency", "3")
    assert done.returncode == 3, done.stderr  # the missing one: not found
    assert "prefilled 5 of 6 assets" in done.stderr
    assert "missing.dat" in done.stderr
    cached = sorted(p.name for p in (tmp_path / "asset-cache").rglob("fixture-*.dat"))
    assert cached == [f"fixture-{n}.dat" for n in range(5)]

    manifest = tmp_path / "m.json"
    opts = ("--manifest", str(manifest), "--bucket", bucket)
    for name in ("a", "b"):
        assert (
            glider(
                "vc", "add", f"/m/{name}.bin", str(write(tmp_path, name, name.encode() * 99)), *opts
            ).returncode
            == 0
        )
    shutil.rmtree(tmp_path / "asset-cache")
    warmed = glider("prefill", *opts)
    assert warmed.returncode == 0, warmed.stderr
    assert "prefilled 2 of 2 assets" in warmed.stderr
    assert sorted(p.name for p in (tmp_path / "asset-cache").rglob("*.v1.0.0.bin")) == [
        "a.v1.0.0.bin",
        "b.v1.0.0.bin",
    ]
    usage = glider("prefill", "--list", str(listing), *opts)
    assert usage.returncode == 2
