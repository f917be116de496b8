"""`glider serve --embedded` (what `make run` runs) on a machine with no S3 and no token configured."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from app.storage.seaweed import free_ports
from tests.support.service import REPO, wait_until

pytestmark = pytest.mark.integration

GLIDER = Path(sys.executable).parent / "glider"


def test_embedded_serve_prints_a_working_token_and_cleans_up(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DG_"))} | {"HOME": str(tmp_path)}
    out = tmp_path / "serve.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [str(GLIDER), "serve", "--embedded", "--port", str(port)],
            cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until(lambda: "curl" in out.read_text(errors="replace"), timeout=90, what="the banner")
        text = out.read_text()
        url = re.search(r"serving at (http://\S+)", text)
        token = re.search(r"generated for this run\): (\S+)", text)
        assert url is not None
        assert token is not None
        assert url.group(1) == f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(url.group(1) + "/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=60, what="healthz")
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("weed" in child.name() for child in children)
        auth = {"Authorization": f"Bearer {token.group(1)}"}
        created = httpx.post(url.group(1) + "/upload", params={"bucket": "artifacts", "key": "a/b.txt"},
                             content=b"hello", headers=auth)  # fmt: skip
        assert created.status_code == 201, created.text
        assert (
            httpx.get(url.group(1) + "/buckets/artifacts/objects/a/b.txt", headers=auth).content == b"hello"
        )
        assert httpx.get(url.group(1) + "/buckets/artifacts/stats").status_code == 401
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, out.read_text()[-3000:]
    deadline = time.monotonic() + 20
    while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        assert time.monotonic() < deadline, "SeaweedFS outlived `glider serve`"
        time.sleep(0.1)
    assert (tmp_path / ".cache" / "glider" / "seaweed").is_dir()  # data persists between runs
