"""Helpers for service tests: an in-process client with a running lifespan, a real uvicorn
subprocess, Prometheus text parsing and bounded polling.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio.from_thread
import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.storage.seaweed import free_ports

REPO = Path(__file__).resolve().parents[2]


class AppClient:
    """Drive an ASGI app in-process with its lifespan running (like Starlette's TestClient,
    which needs httpx2): an event loop in a portal thread, synchronous calls from the test."""

    def __init__(self, app: FastAPI, headers: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.headers = dict(headers or {})
        self._stack = contextlib.ExitStack()
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._client: httpx.AsyncClient | None = None

    def __enter__(self) -> AppClient:
        portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        self._portal = portal
        self._stack.enter_context(
            portal.wrap_async_context_manager(self.app.router.lifespan_context(self.app))
        )
        transport = httpx.ASGITransport(app=self.app)
        client = httpx.AsyncClient(transport=transport, base_url="http://glider.test", headers=self.headers)
        self._client = self._stack.enter_context(portal.wrap_async_context_manager(client))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        assert self._portal is not None, "use inside `with`"
        assert self._client is not None
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


def metric(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """The value of one sample in Prometheus text (0.0 when absent); `labels` must match exactly
    on the keys given."""
    wanted = dict(labels or {})
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
                total += sample.value
    return total


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = ""
) -> None:
    """Poll `predicate` until true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@dataclass
class ServiceProcess:
    """`uvicorn --factory app.main:create_app` in a subprocess on a free loopback port."""

    env: dict[str, str]
    startup_timeout: float = 60.0
    # True: started as `glider serve` (the production path, with app.api.http_limits installed).
    cli: bool = False
    port: int = field(init=False, default=0)
    log_path: Path = field(init=False)
    _proc: subprocess.Popen[bytes] | None = field(init=False, default=None)
    _tmp: tempfile.TemporaryDirectory[str] = field(init=False)
    _final_log: str = field(init=False, default="")

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        self._tmp = tempfile.TemporaryDirectory(prefix="glider-svc-")
        self.log_path = Path(self._tmp.name) / "service.log"
        self.port = free_ports(1)[0]
        env = {
            "DG_CACHE_DIR": str(Path(self._tmp.name) / "cache"),
            "DG_WORK_DIR": str(Path(self._tmp.name) / "work"),
            "DG_LOG_LEVEL": "INFO",
        } | self.env
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
        ]  # fmt: skip
        if self.cli:
            argv = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise AssertionError(f"service exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"service did not start in {self.startup_timeout}s:\n{self.log_tail()}")

    def log_text(self) -> str:
        """The service's output so far (after `close()`, everything it wrote)."""
        if self.log_path.exists():
            self._final_log = self.log_path.read_text(errors="replace")
        return self._final_log

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_text()[-chars:]

    def stop(self) -> int | None:
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            code = proc.returncode
        return code

    def close(self) -> None:
        self.stop()
        self.log_text()
        self._tmp.cleanup()


@contextlib.contextmanager
def running_service(
    env: dict[str, str], startup_timeout: float = 60.0, *, cli: bool = False
) -> Iterator[ServiceProcess]:
    service = ServiceProcess(env, startup_timeout, cli).start()
    try:
        yield service
    finally:
        service.close()
