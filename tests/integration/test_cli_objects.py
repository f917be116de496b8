"""`glider cp / ls / rm` as a real process against real SeaweedFS: output, JSON, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint
from tests.support.engine import versions, write

pytestmark = pytest.mark.integration

GLIDER = Path(sys.executable).parent / "glider"


def glider(
    seaweed: S3Endpoint, *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = (env if env is not None else seaweed.env()) | {"DG_CACHE_BACKEND": "memory"}
    return subprocess.run(
        [str(GLIDER), *map(str, args)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_upload_list_download_delete(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    v0, v1 = versions(300_000, 2, seed=41)
    up0 = json.loads(
        ok(glider(seaweed, "cp", write(tmp_path, "a.zip", v0), f"s3://{bucket}/rel/app-0.zip", "--json"))
    )
    assert (up0["stored_as"], up0["key"], up0["reference_size"]) == ("reference", "rel/app-0.zip", 300_000)
    assert up0["reason"] is None
    text = ok(glider(seaweed, "cp", write(tmp_path, "b.zip", v1), f"s3://{bucket}/rel/"))
    assert text.startswith(f"upload: {tmp_path / 'b.zip'} to s3://{bucket}/rel/b.zip (delta,")

    listing = json.loads(ok(glider(seaweed, "ls", f"s3://{bucket}/rel/", "--json", "--long")))
    assert [(e["key"], e["size"], e["stored_as"]) for e in listing] == [
        ("rel/app-0.zip", 300_000, "delta"),
        ("rel/b.zip", 300_000, "delta"),
    ]
    plain = ok(glider(seaweed, "ls", f"s3://{bucket}"))
    assert "reference.bin" not in plain
    assert plain.count("\n") == 2
    # Without --long a delta's original size is unknown: shown as '-', never its stored size.
    assert [line.split()[2] for line in plain.splitlines()] == ["-", "-"]
    short = json.loads(ok(glider(seaweed, "ls", f"s3://{bucket}/rel/", "--json")))
    assert [(e["size"], e["stored_size"] < 300_000) for e in short] == [(None, True), (None, True)]

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    got = json.loads(ok(glider(seaweed, "cp", f"s3://{bucket}/rel/b.zip", out_dir, "--json")))
    assert (out_dir / "b.zip").read_bytes() == v1
    assert got["path"] == str(out_dir / "b.zip")
    ok(glider(seaweed, "cp", f"s3://{bucket}/rel/app-0.zip", tmp_path / "x.zip"))
    assert (tmp_path / "x.zip").read_bytes() == v0

    gone = json.loads(ok(glider(seaweed, "rm", f"s3://{bucket}/rel/app-0.zip", "--json")))
    assert gone["deleted_keys"] == ["rel/app-0.zip.delta"]
    assert "reference.bin" in ok(glider(seaweed, "rm", f"s3://{bucket}/rel/b.zip"))
    assert list(s3_store.iter_objects(bucket)) == []


def test_endpoint_url_option_overrides_the_environment(
    seaweed: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    env = seaweed.env() | {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens there
    path = write(tmp_path, "n.txt", b"hello")
    assert glider(seaweed, "cp", path, f"s3://{bucket}/n.txt", env=env).returncode == 6
    ok(glider(seaweed, "cp", path, f"s3://{bucket}/n.txt", "--endpoint-url", seaweed.endpoint_url, env=env))


def test_progress_goes_to_stderr_for_big_files(seaweed: S3Endpoint, bucket: str, tmp_path: Path) -> None:
    big = write(tmp_path, "big.bin", b"x" * (9 << 20))
    done = glider(seaweed, "cp", big, f"s3://{bucket}/big.bin", "--progress")
    assert ok(done).startswith("upload: ")
    assert "hashing" in done.stderr
    quiet = glider(seaweed, "cp", big, f"s3://{bucket}/big2.bin")
    assert ok(quiet)
    assert quiet.stderr == ""


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("cp", "s3://Bad_Bucket/a.zip", "out"), 2, "invalid bucket name"),
        (("cp", "{file}", "s3://{bucket}/a/../b.zip"), 2, "'..'"),
        (("cp", "{file}", "s3://{bucket}/x/reference.bin"), 4, "reserved"),
        (("cp", "{empty}", "s3://{bucket}/e.zip"), 2, "empty file"),
        (("cp", "s3://{bucket}/missing.zip", "out"), 3, "not found"),
        (("cp", "s3://no-such-bucket-glider/a.zip", "out"), 3, "bucket"),
        (("ls", "s3://no-such-bucket-glider"), 3, "bucket"),
        (("rm", "s3://{bucket}/missing.zip"), 3, "not found"),
        (("cp", "a", "b"), 2, "exactly one"),
    ],
)
def test_errors_are_one_line_with_distinct_statuses(
    seaweed: S3Endpoint, bucket: str, tmp_path: Path, args: tuple[str, ...], status: int, message: str
) -> None:
    values = {
        "bucket": bucket,
        "file": write(tmp_path, "f.zip", b"data"),
        "empty": write(tmp_path, "e.zip", b""),
    }
    done = glider(seaweed, *(a.format(**values) for a in args))
    assert done.returncode == status, done.stderr
    assert message in done.stderr.lower() or message in done.stderr
    if status != 2 or "exactly one" not in message:
        assert done.stderr.count("\n") == 1


def test_a_corrupted_delta_exits_with_the_integrity_status(
    seaweed: S3Endpoint, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    v0, v1 = versions(200_000, 2, seed=42)
    ok(glider(seaweed, "cp", write(tmp_path, "a.zip", v0), f"s3://{bucket}/a.zip"))
    ok(glider(seaweed, "cp", write(tmp_path, "b.zip", v1), f"s3://{bucket}/b.zip"))
    head = s3_store.head(bucket, "b.zip.delta")
    s3_store.put_bytes(bucket, "b.zip.delta", b"garbage" * 10, dict(head.metadata))
    done = glider(seaweed, "cp", f"s3://{bucket}/b.zip", tmp_path / "out.zip")
    assert done.returncode == 5
    assert done.stderr.startswith("glider: ")
    assert not (tmp_path / "out.zip").exists()


def test_cp_says_what_a_reference_costs_and_why_a_file_went_direct(
    seaweed: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    (v0,) = versions(300_000, 1, seed=42)
    first = ok(glider(seaweed, "cp", write(tmp_path, "c.whl", v0), f"s3://{bucket}/other/"))
    assert "(reference, 300,000 bytes: the deltaspace's reference.bin costs the full 300,000 bytes)" in first
    note = ok(glider(seaweed, "cp", write(tmp_path, "n.txt", b"notes\n"), f"s3://{bucket}/other/", "--json"))
    assert json.loads(note)["reason"] == "not-a-candidate"
    line = ok(glider(seaweed, "cp", tmp_path / "n.txt", f"s3://{bucket}/other/"))
    assert line.rstrip().endswith("(direct, 6 bytes stored as 6, 100.0%, reason: not-a-candidate)")
