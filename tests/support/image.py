"""The Glider image under podman, for tests: build it with scripts/image.sh, run it like an
orchestrator would (read-only root, tmpfs /tmp, a named volume for the cache, uid 10001, host
network bound to 127.0.0.1), stop it with SIGTERM and read its logs.

Nothing here talks to a registry: scripts/image.sh uses the real base image only when it is already
present or can be pulled, else a stand-in it builds once from Debian packages and keeps as a tag.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.storage.seaweed import free_ports
from tests.support.service import wait_until

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO / "deploy" / "podman" / "containers.conf"
UID = 10001
# One tag per checkout: helpers and CI building from other worktrees never swap images under us.
TAG = "localhost/glider-test:" + hashlib.sha256(str(REPO).encode()).hexdigest()[:12]


def podman_env() -> dict[str, str]:
    return dict(os.environ) | {"CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF))}


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env=podman_env(), check=False
    )
    if check and run.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return run


def cannot_run_containers() -> str | None:
    """Why podman cannot run containers here (the only reason to skip), else None.

    As root a missing podman is a failure, not a skip: `scripts/system-deps.sh test` installs it.
    """
    if os.geteuid() != 0:
        return "the image test runs podman as root (rootless podman is not set up for it)"
    if shutil.which("podman") is None:
        raise AssertionError("podman is not installed: run scripts/system-deps.sh test")
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
    if info.returncode != 0:
        return f"podman cannot run containers here: {info.stderr.strip()[-300:]}"
    return None


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    base: str
    seconds: float
    size_bytes: int


def build_image(log: Path, tag: str = TAG) -> BuiltImage:
    """scripts/image.sh build (the README's command); the image this tag named before is removed
    once replaced, so repeated runs do not pile up images (its cached layers stay)."""
    before = podman("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()
    began = time.monotonic()
    with log.open("w") as out:
        run = subprocess.run(
            [str(REPO / "scripts" / "image.sh"), "build", tag],
            stdout=out, stderr=subprocess.STDOUT, env=podman_env(), timeout=900, check=False,
        )  # fmt: skip
    seconds = time.monotonic() - began
    if run.returncode != 0:
        raise AssertionError(f"image build failed ({run.returncode}):\n{log.read_text()[-4000:]}")
    after = podman("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
    if before and before != after:
        podman("rmi", before, check=False)  # still used by a container elsewhere: kept, harmless
    size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
    # image.sh says "building TAG from BASE with ENGINE" before it builds.
    said = [
        line for line in log.read_text().splitlines() if line.startswith(f"image.sh: building {tag} from ")
    ]
    assert said, "image.sh did not say which base it used"
    base = said[-1].split(" from ", 1)[1].rsplit(" with ", 1)[0]
    return BuiltImage(tag, base, seconds, size)


_BUILT: dict[str, BuiltImage] = {}


def image_under_test(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    """For a module fixture: skip when podman cannot run containers, else build (layers cached;
    once per session) and print the image's size and build time in the test output, whatever the
    capture mode."""
    reason = cannot_run_containers()
    if reason is not None:
        pytest.skip(reason)
    if TAG in _BUILT:  # built by an earlier module of this session
        return _BUILT[TAG]
    built = _BUILT[TAG] = build_image(tmp_path_factory.mktemp("image") / "build.log")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():  # what capsys.disabled() does
            reporter.ensure_newline()
            reporter.write_line(
                f"glider image {built.tag}: {built.size_bytes / 1e6:.0f} MB on {built.base}, "
                f"built in {built.seconds:.1f} s"
            )
    return built


@dataclass
class Container:
    """One running container of the image; `url` is its loopback address on the host network."""

    image: str
    env: dict[str, str]
    name: str = field(default_factory=lambda: f"glider-test-{uuid.uuid4().hex[:10]}")
    port: int = field(default_factory=lambda: free_ports(1)[0])
    volume: str = field(init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, startup_timeout: float = 60) -> Container:
        self.volume = f"{self.name}-cache"
        podman("volume", "create", self.volume)
        # Host network, so the container reaches the test's loopback SeaweedFS and Redis; DG_HOST
        # keeps it on loopback too. The health check is run on demand (no systemd timer here).
        env = {"DG_HOST": "127.0.0.1", "DG_PORT": str(self.port)} | self.env
        args = ["run", "--detach", "--name", self.name, "--network", "host", "--read-only",
                "--tmpfs", "/tmp", "--volume", f"{self.volume}:/var/cache/glider",
                "--user", f"{UID}:{UID}", "--health-interval", "disable"]  # fmt: skip
        for name, value in env.items():
            args += ["--env", f"{name}={value}"]
        podman(*args, self.image)
        wait_until(self._up, timeout=startup_timeout, interval=0.2, what=f"{self.name} to answer /healthz")
        return self

    def _up(self) -> bool:
        state = podman("inspect", "--format", "{{.State.Status}}", self.name).stdout.strip()
        assert state == "running", f"container {state}:\n{self.logs()[-3000:]}"
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def logs(self) -> str:
        run = podman("logs", self.name, check=False)
        return run.stdout + run.stderr

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *argv, check=False)

    def volume_dir(self) -> Path:
        return Path(podman("volume", "inspect", "--format", "{{.Mountpoint}}", self.volume).stdout.strip())

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM, as `docker stop` and Kubernetes send it; (exit code, seconds to exit)."""
        began = time.monotonic()
        podman("kill", "--signal", "TERM", self.name)
        code = podman("wait", self.name, timeout=timeout).stdout.strip()
        return int(code), time.monotonic() - began

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)
        podman("volume", "rm", "--force", self.volume, check=False)


@contextlib.contextmanager
def running(image: str, env: dict[str, str]) -> Iterator[Container]:
    container = Container(image, env)
    try:
        yield container.start()
    finally:
        container.remove()


def json_lines(text: str) -> list[dict[str, object]]:
    """Every non-empty line parsed as a JSON object; AssertionError names the first that is not."""
    parsed = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"log line is not JSON: {line!r}") from None
        assert isinstance(value, dict), line
        parsed.append(value)
    return parsed
