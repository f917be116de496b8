"""`glider` as a client of a running service: a real uvicorn process on real SeaweedFS.

The CLI processes get no S3 credentials and an S3 endpoint where nothing listens, so every
command that succeeds provably went through the service.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.storage.s3 import S3ObjectStore
from app.storage.seaweed import free_ports
from tests.conftest import S3Endpoint
from tests.support.engine import versions, write
from tests.support.service import ServiceProcess, running_service

pytestmark = pytest.mark.integration

GLIDER = Path(sys.executable).parent / "glider"
TOKEN = "tok-all-0f3c9d2e"  # upload, read, admin
READ_TOKEN = "tok-read-7b1a44c0"  # read only
TOKENS = {TOKEN: ["upload", "read", "admin"], READ_TOKEN: ["read"]}


@pytest.fixture(scope="module")
def service(seaweed: S3Endpoint) -> Iterator[ServiceProcess]:
    env = seaweed.env() | {
        "DG_API_TOKENS": json.dumps(TOKENS),
        "DG_CLEAR_CACHE_INTERVAL": "0",
        "DG_WARM_INTERVAL": "0",
        "DG_EMBEDDED_S3": "false",
        "DG_CACHE_BACKEND": "memory",
    }
    with running_service(env) as svc:
        yield svc
    for token in TOKENS:
        assert token not in svc.log_text()


def cli_env(**extra: str) -> dict[str, str]:
    """No S3 access at all: only the service can make a command succeed."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_", "GLIDER_"))}
    return base | {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "DG_CACHE_BACKEND": "memory"} | extra


def glider(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(GLIDER), *map(str, args)],
        env=env if env is not None else cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for token in TOKENS:
        assert token not in done.stdout + done.stderr
    return done


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def failed(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The one-line message of a command that exited with `code`."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.startswith("glider: ")
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def opts(service: ServiceProcess, token: str = TOKEN) -> tuple[str, ...]:
    return ("--server", service.url, "--token", token)


def test_cp_ls_rm_through_the_service(
    service: ServiceProcess, s3_store: S3ObjectStore, bucket: str, tmp_path: Path
) -> None:
    v0, v1 = versions(300_000, 2, seed=71)
    up0 = json.loads(
        ok(
            glider(
                "cp", write(tmp_path, "a.zip", v0), f"s3://{bucket}/rel/app-0.zip", "--json", *opts(service)
            )
        )
    )
    assert (up0["stored_as"], up0["key"], up0["reference_size"]) == ("reference", "rel/app-0.zip", 300_000)
    assert up0["stored_key"] == "rel/app-0.zip.delta"
    text = ok(glider("cp", write(tmp_path, "b.zip", v1), f"s3://{bucket}/rel/", *opts(service)))
    assert text.startswith(f"upload: {tmp_path / 'b.zip'} to s3://{bucket}/rel/b.zip (delta, 300,000 bytes")
    stored = {obj.key for obj in s3_store.iter_objects(bucket)}
    assert stored == {"rel/reference.bin", "rel/app-0.zip.delta", "rel/b.zip.delta"}

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    got = json.loads(ok(glider("cp", f"s3://{bucket}/rel/b.zip", out_dir, "--json", *opts(service))))
    assert (out_dir / "b.zip").read_bytes() == v1
    assert (got["path"], got["size"], got["stored_as"]) == (str(out_dir / "b.zip"), 300_000, "delta")
    assert got["sha256"] == hashlib.sha256(v1).hexdigest()
    line = ok(glider("cp", f"s3://{bucket}/rel/app-0.zip", tmp_path / "x.zip", *opts(service)))
    assert (
        line
        == f"download: s3://{bucket}/rel/app-0.zip to {tmp_path / 'x.zip'} (300,000 bytes, delta, verified)\n"
    )
    assert (tmp_path / "x.zip").read_bytes() == v0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".glider-tmp")] == []

    listing = json.loads(
        ok(glider("ls", f"s3://{bucket}/rel/", "--json", "--long", *opts(service, READ_TOKEN)))
    )
    assert [(e["key"], e["size"], e["stored_as"], e["bucket"]) for e in listing] == [
        ("rel/app-0.zip", 300_000, "delta", bucket),
        ("rel/b.zip", 300_000, "delta", bucket),
    ]
    assert listing[0]["sha256"] == up0["sha256"]
    plain = ok(glider("ls", f"s3://{bucket}", *opts(service)))
    assert plain.count("\n") == 2
    assert "reference.bin" not in plain

    gone = json.loads(ok(glider("rm", f"s3://{bucket}/rel/app-0.zip", "--json", *opts(service))))
    assert gone == {"bucket": bucket, "key": "rel/app-0.zip", "deleted_keys": ["rel/app-0.zip.delta"]}
    assert "reference.bin" in ok(glider("rm", f"s3://{bucket}/rel/b.zip", *opts(service)))
    assert list(s3_store.iter_objects(bucket)) == []
    assert json.loads(ok(glider("ls", f"s3://{bucket}", "--json", *opts(service)))) == []


def test_server_and_token_from_the_environment(service: ServiceProcess, bucket: str, tmp_path: Path) -> None:
    env = cli_env(GLIDER_SERVER=service.url, GLIDER_TOKEN=TOKEN)
    data = b"configuration file\n" * 1000
    ok(glider("cp", write(tmp_path, "app.cfg", data), f"s3://{bucket}/etc/app.cfg", env=env))
    ok(glider("cp", f"s3://{bucket}/etc/app.cfg", tmp_path / "copy.cfg", env=env))
    assert (tmp_path / "copy.cfg").read_bytes() == data
    assert "etc/app.cfg" in ok(glider("ls", f"s3://{bucket}/etc/", env=env))
    # Without the server the same command goes to S3 directly, with no credentials and no S3 there.
    direct = glider("ls", f"s3://{bucket}/etc/", env=cli_env(GLIDER_TOKEN=TOKEN))
    assert direct.returncode in (6, 7)
    assert "http://127.0.0.1:9" in direct.stderr


def test_a_big_upload_shows_a_byte_progress_bar(service: ServiceProcess, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(9 << 20)
    path = write(tmp_path, "big.bin", data)
    done = glider("cp", path, f"s3://{bucket}/big/big.bin", "--progress", *opts(service))
    ok(done)
    bars = [line for line in done.stderr.splitlines() if line.startswith("uploading big/big.bin:")]
    assert bars
    assert "/9.44M" in bars[0]  # a byte bar whose total is the file's size
    back = glider("cp", f"s3://{bucket}/big/big.bin", tmp_path / "back.bin", "--progress", *opts(service))
    ok(back)
    assert "downloading big/big.bin:" in back.stderr
    assert "/9.44M" in back.stderr
    assert (tmp_path / "back.bin").read_bytes() == data
    quiet = glider("cp", f"s3://{bucket}/big/big.bin", tmp_path / "again.bin", *opts(service))
    ok(quiet)
    assert quiet.stderr == ""  # not a terminal: no bar unless --progress
    # Refused before the body is read: still a clean 401, not a broken pipe.
    refused = glider("cp", path, f"s3://{bucket}/big/other.bin", *opts(service, "wrong-token"))
    assert "401" in failed(refused, 7)


def test_stats_through_the_service(service: ServiceProcess, bucket: str, tmp_path: Path) -> None:
    v0, v1 = versions(200_000, 2, seed=73)
    ok(glider("cp", write(tmp_path, "a.zip", v0), f"s3://{bucket}/s/a.zip", *opts(service)))
    ok(glider("cp", write(tmp_path, "b.zip", v1), f"s3://{bucket}/s/b.zip", *opts(service)))
    ok(glider("cp", write(tmp_path, "n.txt", b"notes"), f"s3://{bucket}/n.txt", *opts(service)))
    auth = {"Authorization": f"Bearer {READ_TOKEN}"}
    url = f"{service.url}/buckets/{bucket}/stats"

    def api(**params: str) -> dict[str, object]:
        answer = httpx.get(url, params=params, headers=auth, timeout=60)
        assert answer.status_code == 200, answer.text
        document = answer.json()
        assert isinstance(document, dict)
        return document

    def without_age(document: dict[str, object]) -> dict[str, object]:
        cache = document["cache"]
        assert isinstance(cache, dict)
        return document | {"cache": {k: v for k, v in cache.items() if k != "age_seconds"}}

    api(mode="detailed")  # computes and caches
    shown = json.loads(ok(glider("stats", bucket, "--detailed", "--json", *opts(service, READ_TOKEN))))
    assert without_age(shown) == without_age(api(mode="detailed"))
    assert (shown["object_count"], shown["delta_objects"], shown["direct_objects"]) == (3, 2, 1)
    assert (shown["total_size"], shown["exact"], shown["mode"]) == (400_005, True, "detailed")

    refreshed = json.loads(
        ok(glider("stats", f"s3://{bucket}", "--detailed", "--refresh", "--json", *opts(service, READ_TOKEN)))
    )
    assert refreshed["cache"]["result"] == "refresh"
    table = ok(glider("stats", bucket, "--sampled", *opts(service, READ_TOKEN)))
    lines = table.splitlines()
    assert lines[0] == f"Bucket Statistics: {bucket}  (mode: sampled)"
    assert "Total Objects:        3" in lines
    assert "Original Size:        390.63 KiB (400,005 bytes)" in lines
    assert any(line.startswith("Cache:") for line in lines)
    env = cli_env(GLIDER_SERVER=service.url, GLIDER_TOKEN=READ_TOKEN)
    bypass = json.loads(ok(glider("stats", bucket, "--no-cache", "--json", env=env)))
    assert bypass["cache"]["result"] == "bypass"
    failed(glider("stats", f"no-such-bucket-{bucket}", *opts(service)), 3)
    failed(glider("stats", bucket, *opts(service, "not-a-token")), 7)


def test_clear_cache(service: ServiceProcess, bucket: str, tmp_path: Path) -> None:
    v0, v1 = versions(200_000, 2, seed=72)
    ok(glider("cp", write(tmp_path, "a.zip", v0), f"s3://{bucket}/c/a.zip", *opts(service)))
    ok(
        glider("cp", write(tmp_path, "b.zip", v1), f"s3://{bucket}/c/b.zip", *opts(service))
    )  # caches the reference
    first = json.loads(ok(glider("clear-cache", "--json", *opts(service))))
    assert first["entries_freed"] >= 1
    assert first["bytes_freed"] >= 200_000
    text = ok(glider("clear-cache", *opts(service)))
    assert text == f"clear-cache: {service.url}: 0 entries, 0.00 B (0 bytes) freed\n"
    assert "403" in failed(glider("clear-cache", *opts(service, READ_TOKEN)), 7)  # needs the admin scope


def test_errors_exit_like_direct_mode(service: ServiceProcess, bucket: str, tmp_path: Path) -> None:
    path = write(tmp_path, "f.txt", b"hello")
    wrong = failed(glider("ls", f"s3://{bucket}", *opts(service, "not-a-token")), 7)
    assert wrong.startswith(f"glider: {service.url} answered 401 Unauthorized:")
    assert "not-a-token" not in wrong
    assert "403" in failed(glider("cp", path, f"s3://{bucket}/f.txt", *opts(service, READ_TOKEN)), 7)
    assert "403" in failed(glider("rm", f"s3://{bucket}/f.txt", *opts(service, READ_TOKEN)), 7)
    failed(glider("cp", f"s3://{bucket}/missing.txt", tmp_path / "m.txt", *opts(service)), 3)
    assert not (tmp_path / "m.txt").exists()
    failed(glider("cp", path, f"s3://{bucket}/x/reference.bin", *opts(service)), 4)
    failed(glider("cp", path, "s3://Bad_Bucket/f.txt", *opts(service)), 2)
    failed(glider("ls", f"s3://no-such-bucket-{bucket}", *opts(service)), 3)
    failed(glider("cp", write(tmp_path, "empty", b""), f"s3://{bucket}/e.txt", *opts(service)), 2)


def test_server_down_exits_6_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_ports(1)[0]}"
    path = write(tmp_path, "f.txt", b"hello")
    for args in (("cp", path, "s3://bkt/f.txt"), ("ls", "s3://bkt"), ("clear-cache",)):
        message = failed(glider(*args, "--server", url, "--token", TOKEN), 6)
        assert message.startswith(f"glider: Glider server {url} cannot be reached")


def test_option_mixes_are_usage_errors(service: ServiceProcess) -> None:
    both = glider("ls", "s3://bkt", "--endpoint-url", "http://127.0.0.1:9", *opts(service))
    assert both.returncode == 2
    assert "choose one" in both.stderr
    alone = glider("ls", "s3://bkt", "--token", TOKEN)
    assert alone.returncode == 2
    assert "--token is for --server" in alone.stderr
    direct_only = glider("clear-cache")
    assert direct_only.returncode == 2
    assert "GLIDER_SERVER" in direct_only.stderr
