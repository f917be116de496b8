"""`glider serve --embedded` as `make run` runs it, with real processes and kill -9.

- the banner's exports and `.venv/bin/glider` commands work when pasted;
- the `weed` child gets a minimal environment (no DG_API_TOKENS), an owner-only data directory
  and owner-only files;
- a second instance is told who runs (pid, URL), a busy port which variable changes it;
- SeaweedFS killed with SIGKILL is logged, restarted with its data, /readyz 503 meanwhile;
  after repeated failures the service exits 6 with one line;
- `glider serve` killed with SIGKILL takes weed along; a stale weed is stopped on the next start;
- no `/tmp/seaweedfs-*-<port>.sock` is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.storage.seaweed import _PORT_FLAGS, LOOPBACK, find_weed, free_ports
from tests.support.service import REPO, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GLIDER = Path(sys.executable).parent / "glider"
TOKEN = "tok-embedded-0123456789abcdef"  # a throwaway token of a loopback-only test server
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _sockets(ports: list[int]) -> list[Path]:
    return [p for port in ports for p in Path("/tmp").glob(f"seaweedfs-*-{port}.sock")]


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    out: Path
    home: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / ".cache" / "glider" / "seaweed"

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def weed(self) -> dict[str, object]:
        """The pid file's record ({} when there is none)."""
        try:
            record: dict[str, object] = json.loads((self.data_dir / "weed.pid").read_text())
        except FileNotFoundError:
            return {}
        return record

    def ready(self) -> int:
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code
        except httpx.TransportError:
            return 0


def _env(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))}
    return base | {"HOME": str(home)} | extra


def start_serve(home: Path, port: int | None = None, **extra: str) -> Serve:
    port = port or free_ports(1)[0]
    out = home / f"serve-{time.monotonic_ns()}.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [str(GLIDER), "serve", "--embedded", "--port", str(port)],
            cwd=REPO, env=_env(home, **extra), stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Serve(proc, out, home, port)


def wait_serving(serve: Serve) -> None:
    wait_until(lambda: "API documentation" in serve.text() or serve.proc.poll() is not None,
               timeout=120, what="the banner")  # fmt: skip
    assert serve.proc.poll() is None, serve.text()[-3000:]
    wait_until(lambda: serve.ready() == 200, timeout=60, what="readyz")


def stop(serve: Serve) -> int:
    if serve.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.proc.pid, signal.SIGTERM)
    return serve.proc.wait(timeout=60)


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Serve]:
    serve = start_serve(tmp_path, DG_API_TOKENS=json.dumps({TOKEN: ["upload", "read", "admin"]}),
                        DG_CACHE_ENCRYPTION_KEY="0" * 64, GLIDER_TEST_SECRET="do-not-inherit")  # fmt: skip
    try:
        wait_serving(serve)
        yield serve
    finally:
        if serve.proc.poll() is None:
            stop(serve)


def test_banner_commands_work_and_weed_is_fenced(serving: Serve, tmp_path: Path) -> None:
    text = serving.text()
    [exports] = [line.strip() for line in text.splitlines() if "export AWS_ENDPOINT_URL=" in line]
    pasted = dict(part.split("=", 1) for part in shlex.split(exports)[1:])
    assert set(pasted) == {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith(".venv/bin/glider ")]
    assert len(commands) == 2, text

    artifact = tmp_path / "app-1.0.zip"
    artifact.write_bytes(os.urandom(50_000))
    created = httpx.post(serving.url + "/upload", params={"bucket": "artifacts", "key": "docs/app-1.0.zip"},
                         content=artifact.read_bytes(), headers=AUTH, timeout=60)  # fmt: skip
    assert created.status_code == 201, created.text
    # The banner's CLI lines, run from the repository as printed, with the pasted exports.
    env = _env(tmp_path) | pasted
    listing = subprocess.run(shlex.split(commands[0]), cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120, check=False)  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    assert "docs/app-1.0.zip" in listing.stdout
    stats = subprocess.run(shlex.split(commands[1]), cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=120, check=False)  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    assert "Total Objects:        1" in stats.stdout

    # Issue 16 item 9: the child knows nothing of Glider's secrets, and its files are private.
    weed_pid = int(str(serving.weed()["pid"]))
    environ = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{weed_pid}/environ").read_text().split("\0")
        if "=" in item
    )
    assert not {"DG_API_TOKENS", "DG_CACHE_ENCRYPTION_KEY", "GLIDER_TEST_SECRET", "HOME"} & set(environ)
    assert TOKEN not in Path(f"/proc/{weed_pid}/environ").read_text()
    assert stat.S_IMODE(serving.data_dir.stat().st_mode) == 0o700
    files = [p for p in serving.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".dat" for p in files), "no volume file written"
    volumes = [p for p in files if p.suffix in (".dat", ".idx")]
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in volumes if p.stat().st_mode & 0o077}
    assert not loose, loose
    # weed writes a few small metadata files (.vif) 0644 on purpose: the 0700 directories fence them.
    dirs = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in serving.data_dir.rglob("*") if p.is_dir()}
    assert all(mode == "0o700" for mode in dirs.values()), dirs


def test_second_instance_and_busy_port_get_one_line(serving: Serve, tmp_path: Path) -> None:
    same_data = subprocess.run(
        [str(GLIDER), "serve", "--embedded", "--port", str(free_ports(1)[0])],
        cwd=REPO, env=_env(serving.home), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert same_data.returncode == 4
    assert same_data.stdout == ""
    assert same_data.stderr == (
        f"glider: glider serve --embedded is already running (pid {serving.proc.pid}, {serving.url}) with "
        f"the data in {serving.data_dir}; use that one, or stop it first (Ctrl-C)\n"
    )
    other_home = tmp_path / "other"
    other_home.mkdir()
    same_port = subprocess.run(
        [str(GLIDER), "serve", "--embedded"],
        cwd=REPO, env=_env(other_home, DG_PORT=str(serving.port)), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert same_port.returncode == 4
    assert same_port.stderr.count("\n") == 1, same_port.stderr
    assert f"port {serving.port} on 127.0.0.1 is already in use" in same_port.stderr
    assert "DG_PORT" in same_port.stderr
    assert not (other_home / ".cache" / "glider" / "seaweed" / "weed.pid").exists(), "weed was started"


def test_killed_seaweed_is_restarted_with_its_data_and_sockets_are_cleaned(serving: Serve) -> None:
    content = os.urandom(20_000)
    created = httpx.post(serving.url + "/upload", params={"bucket": "artifacts", "key": "keep/me.bin"},
                         content=content, headers=AUTH, timeout=60)  # fmt: skip
    assert created.status_code == 201
    first = serving.weed()
    first_pid = int(str(first["pid"]))
    os.kill(first_pid, signal.SIGKILL)
    seen: set[int] = set()

    def back() -> bool:
        code = serving.ready()
        seen.add(code)
        return code == 200 and serving.weed()["pid"] != first_pid

    wait_until(back, timeout=90, interval=0.05, what="a restarted SeaweedFS")
    assert 503 in seen, f"/readyz never said not ready while SeaweedFS was down: {seen}"
    assert f"embedded SeaweedFS (pid {first_pid}) exited killed by signal 9" in serving.text()
    # The supervisor logs the restart once it has checked the new child; /readyz may turn first.
    wait_until(lambda: "serving again" in serving.text(), timeout=30, what="the restart log line")
    assert serving.weed()["ports"] == first["ports"], "the endpoint must not move"
    download = httpx.get(serving.url + "/buckets/artifacts/objects/keep/me.bin", headers=AUTH, timeout=60)
    assert download.status_code == 200
    assert download.content == content

    ports = [int(p) for p in first["ports"]]  # type: ignore[attr-defined]
    assert stop(serving) == 0
    assert not _sockets(ports), _sockets(ports)
    assert not (serving.data_dir / "weed.pid").exists()


def test_sigkilled_serve_takes_weed_along_and_a_stale_weed_is_stopped(tmp_path: Path) -> None:
    serve = start_serve(tmp_path)
    try:
        wait_serving(serve)
        weed_pid = int(str(serve.weed()["pid"]))
        os.kill(serve.proc.pid, signal.SIGKILL)
        serve.proc.wait(timeout=30)
        wait_until(lambda: not _alive(weed_pid), timeout=30, what="weed to die with its parent")
    finally:
        stop(serve)

    # A weed left by something that is gone (an older Glider): recorded in the pid file.
    ports = free_ports(len(_PORT_FLAGS))
    data_dir = serve.data_dir
    argv = [str(find_weed()), "mini", f"-dir={data_dir}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
            *(f"-{flag}={port}" for flag, port in zip(_PORT_FLAGS, ports, strict=True))]  # fmt: skip
    stale = subprocess.Popen(argv, cwd=data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)  # fmt: skip
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    (data_dir / "weed.pid").write_text(
        json.dumps({"pid": stale.pid, "owner": dead_owner.pid, "ports": ports})
    )
    again = start_serve(tmp_path)
    try:
        wait_serving(again)
        assert stale.wait(timeout=30) is not None
        assert "stopping a SeaweedFS left running by an earlier run" in again.text()
    finally:
        if stale.poll() is None:
            stale.kill()
        assert stop(again) == 0


def test_repeated_failures_end_the_service_with_one_line(tmp_path: Path) -> None:
    serve = start_serve(tmp_path, DG_EMBEDDED_S3_MAX_RESTARTS="1")
    try:
        wait_serving(serve)
        for _ in range(2):
            pid = int(str(serve.weed()["pid"]))
            wait_until(lambda pid=pid: _alive(pid), timeout=30, what="weed up")
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda pid=pid: serve.weed().get("pid") != pid or serve.proc.poll() is not None,
                       timeout=90, what="a restart or the end")  # fmt: skip
        code = serve.proc.wait(timeout=60)
    finally:
        stop(serve)
    assert code == 6
    last = serve.text().rstrip("\n").splitlines()[-1]
    assert re.fullmatch(
        r"glider: embedded SeaweedFS exited 2 times in a row \(last exit code -9\); "
        r"gave up, see \S+weed\.log",
        last,
    ), last
