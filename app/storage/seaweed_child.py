"""The `weed` child process's surroundings: what it inherits, how it dies, what it leaves behind.

- Environment: only what weed needs (PATH, locale, temp dir, its S3 identity). Glider's own
  secrets (DG_API_TOKENS, DG_CACHE_ENCRYPTION_KEY, AWS credentials of another S3...) stay out.
- Files: the data directory is owner-only (0700) and the child runs under umask 077, so volume
  files holding every artifact in plaintext are 0600.
- Lifetime: the child asks the kernel (prctl PR_SET_PDEATHSIG) to be killed when the thread that
  started it dies, so a SIGKILLed `glider serve` takes its weed along. A pid file in the data
  directory names the running weed and its owner, so a weed that outlived its owner anyway (an
  older Glider, a kill between fork and prctl) is recognised and stopped on the next start.
- Sockets: weed creates `/tmp/seaweedfs-<kind>-<port>.sock` per port and leaves the S3 one behind
  even on a clean exit; ours are removed by port.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PID_FILE = "weed.pid"
_PR_SET_PDEATHSIG = 1
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")


def child_environment(access_key: str, secret_key: str) -> dict[str, str]:
    """The whole environment weed gets: a few harmless variables and its S3 identity."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    return env | {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A `preexec_fn`: SIGKILL this child when the starting thread dies; exit at once if the
    parent is already gone (it died between fork and prctl)."""

    def setup() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


def private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it owner-only, also when it already existed."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


@dataclass(frozen=True, slots=True)
class PidRecord:
    """Who runs weed on a data directory: weed's pid, its owner's pid and weed's ports."""

    pid: int
    owner: int
    ports: tuple[int, ...]

    def write(self, data_dir: Path) -> None:
        path = data_dir / PID_FILE
        tmp = path.with_suffix(".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(json.dumps({"pid": self.pid, "owner": self.owner, "ports": list(self.ports)}))
        tmp.replace(path)

    @classmethod
    def read(cls, data_dir: Path) -> PidRecord | None:
        try:
            raw = json.loads((data_dir / PID_FILE).read_text())
            return cls(int(raw["pid"]), int(raw["owner"]), tuple(int(p) for p in raw["ports"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def weed_on(pid: int, data_dir: Path) -> bool:
    """True if `pid` is a live weed serving `data_dir` (not a reused pid of something else)."""
    argv = _cmdline(pid)
    return bool(argv) and Path(argv[0]).name == "weed" and f"-dir={data_dir}" in argv


def alive(pid: int) -> bool:
    return bool(_cmdline(pid)) or Path(f"/proc/{pid}").exists()


def stop_stale(data_dir: Path) -> PidRecord | None:
    """Stop a weed left running on `data_dir` by an owner that is gone, and remove its leftovers.

    Returns the record of a weed whose owner is still alive (the caller decides: it is in use),
    else None."""
    record = PidRecord.read(data_dir)
    if record is None:
        return None
    if weed_on(record.pid, data_dir):
        if record.owner != os.getpid() and alive(record.owner):
            return record
        log.warning("stopping a SeaweedFS left running by an earlier run (pid %d)", record.pid)
        terminate(record.pid, group=False)
    remove_sockets(record.ports)
    with contextlib.suppress(FileNotFoundError):
        (data_dir / PID_FILE).unlink()
    return None


def terminate(pid: int, *, group: bool, grace: float = 15.0) -> None:
    """SIGTERM `pid` (its process group with `group`), SIGKILL after `grace` seconds."""
    send = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive(pid) or _zombie(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return status.rsplit(")", 1)[-1].split()[0] == "Z"


def remove_sockets(ports: Iterable[int]) -> None:
    """Remove the unix sockets weed made for these ports (`/tmp/seaweedfs-*-<port>.sock`)."""
    tmp = Path("/tmp")  # noqa: S108 - where weed puts them, whatever TMPDIR says
    for port in ports:
        for sock in tmp.glob(f"seaweedfs-*-{port}.sock"):
            with contextlib.suppress(OSError):
                if sock.is_socket():
                    sock.unlink()
