"""A real `redis-server` for tests: 127.0.0.1 only, a free port, a temp dir, no persistence.

`start()` returns once the server logs that it accepts connections (read from its stdout, no
polling); `stop()` / `restart()` (same port) and `flushall()` serve fault tests.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType

import redis

from app.storage.seaweed import free_ports

_READY = "Ready to accept connections"


class RedisServer:
    def __init__(self, port: int | None = None, *, start_timeout: float = 15.0) -> None:
        self.port = port if port is not None else free_ports(1)[0]
        self._start_timeout = start_timeout
        self._dir = Path(tempfile.mkdtemp(prefix="glider-redis-"))
        self._proc: subprocess.Popen[str] | None = None
        self._pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def client(self) -> redis.Redis[bytes]:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=5)

    def start(self) -> None:
        if self.running:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/system-deps.sh installs it)")
        proc = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self._dir),
                "--daemonize", "no",
                "--loglevel", "notice",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        ready = threading.Event()
        log_lines: list[str] = []

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:  # drains the pipe for the server's whole life
                if len(log_lines) < 200:
                    log_lines.append(line)
                if _READY in line:
                    ready.set()

        pumper = threading.Thread(target=pump, name=f"redis-log-{self.port}", daemon=True)
        pumper.start()
        self._proc, self._pump = proc, pumper
        if not ready.wait(self._start_timeout) or proc.poll() is not None:
            self.stop()
            raise RuntimeError("redis-server did not start:\n" + "".join(log_lines))
        with self.client() as client:
            if not client.ping():
                raise RuntimeError("redis-server does not answer PING")

    def stop(self) -> None:
        """Terminate the server and wait for it to exit (data is gone: no persistence)."""
        proc, pumper, self._proc, self._pump = self._proc, self._pump, None, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if pumper is not None:
            pumper.join(timeout=10)  # ends at EOF, once the server has exited
        if proc.stdout is not None:
            proc.stdout.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def flushall(self) -> None:
        with self.client() as client:
            client.flushall()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
