"""Node's zlib as a deflate engine: the `node-zlib` recipe family of gzip-aware deltas.

npm writes its tarballs with node's bundled zlib, a Chromium fork whose deflate output differs
from stock zlib's (typescript 5.4.x: level 9 through node 20's zlib "1.3.1-e00f703"; Python's
zlib reproduces none of them). Only that zlib rebuilds those bytes, so this module runs
`node_deflate.js` (shipped beside it) as a subprocess: the content streams in through stdin
from a feeder thread and the raw deflate stream comes back through stdout, so memory stays
bounded whatever the size. Each run is killed at its deadline.

`DG_GZIP_NODE` names the binary. The default (`node` on PATH) is used only when its zlib is a
fork (a version like `1.3.1-e00f703`): a node linked against the system's stock zlib (Debian's
own `nodejs` package) adds nothing that Python's zlib cannot do. The zlib version is recorded
with every recipe (`dg-gzip-zlib`); a different one rebuilds different bytes, which the SHA-256
check refuses, so a mismatch is always an error and never wrong bytes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from app.errors import RecompressorUnavailable

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("node_deflate.js")
DEFAULT_BINARY = "node"
_PIPE_CHUNK = 64 << 10
_PROBE_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class NodeZlib:
    """A node binary and the zlib version it reported. `timeout`: longest single deflate run."""

    binary: str
    zlib_version: str
    timeout: float = 600.0

    def deflate(
        self, params: tuple[int, int, int, int], source: Iterable[bytes]
    ) -> Generator[bytes, None, None]:
        """Raw deflate of `source` with (level, windowBits, memLevel, strategy), piece by piece.

        `source` is consumed on a feeder thread (it may update totals as it goes). Closing the
        generator early kills the process. Raises RecompressorUnavailable when node cannot run
        or fails, or passes the deadline.
        """
        argv = [self.binary, str(SCRIPT), *(str(p) for p in params)]
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as err:
            raise RecompressorUnavailable(
                f"cannot start node for gzip recompression: {err.strerror}"
            ) from None
        stdout, stderr_pipe = proc.stdout, proc.stderr
        assert proc.stdin is not None
        assert isinstance(stdout, io.BufferedReader)
        assert stderr_pipe is not None
        timer = threading.Timer(self.timeout, proc.kill)
        feeder = threading.Thread(target=_feed, args=(proc.stdin, source), daemon=True)
        timer.start()
        feeder.start()
        finished = False
        try:
            while piece := stdout.read1(_PIPE_CHUNK):
                yield piece
            feeder.join()
            finished = True
        finally:
            timer.cancel()
            if not finished:
                proc.kill()
            stdout.close()
            stderr = stderr_pipe.read().decode("utf-8", "replace").strip()
            stderr_pipe.close()
            status = proc.wait()
            feeder.join()
        if status != 0:
            cause = "passed its deadline" if status < 0 else f"exited with status {status}"
            log.error("node deflate %s: %s", cause, stderr[:500])
            raise RecompressorUnavailable(f"node gzip recompression {cause}")


def _feed(stdin: IO[bytes], source: Iterable[bytes]) -> None:
    """Write `source` to the process; a process that stopped reading just ends the feeding."""
    try:
        for data in source:
            stdin.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def zlib_version_of(binary: str) -> str | None:
    """The zlib version `binary` runs our script with, None when it cannot run it."""
    try:
        done = subprocess.run(
            [binary, str(SCRIPT), "--zlib-version"], capture_output=True, timeout=_PROBE_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.decode("ascii", "replace").strip()
    return version if done.returncode == 0 and version else None


def is_fork(zlib_version: str) -> bool:
    """True for a forked zlib's version string (Chromium's: `1.3.1-e00f703`); stock is `1.3.1`."""
    return "-" in zlib_version


def locate(setting: str | None, timeout: float = 600.0) -> NodeZlib | None:
    """The node recompressor `DG_GZIP_NODE` selects (pure apart from probing the binary).

    None (unset): `node` on PATH when its zlib is a fork; "" disables; a path or name: that
    binary whatever its zlib (the operator chose it), None with a warning when it cannot run.
    """
    if setting is not None and not setting.strip():
        return None
    explicit = setting is not None
    binary = setting.strip() if setting is not None else shutil.which(DEFAULT_BINARY)
    if binary is None:
        return None
    version = zlib_version_of(binary)
    if version is None:
        if explicit:
            log.warning("DG_GZIP_NODE=%s cannot run; node-zlib gzip recipes are off", binary)
        return None
    if not explicit and not is_fork(version):
        log.info("node on PATH uses stock zlib %s; node-zlib gzip recipes are off", version)
        return None
    return NodeZlib(binary, version, timeout)


NodeSource = Callable[[], "NodeZlib | None"]  # the recompressor, found when first asked for


def no_node() -> NodeZlib | None:
    """A NodeSource without node: node-zlib recipes are neither tried nor served."""
    return None


class NodeLocator:
    """`locate` run once, when a node-zlib recipe is first tried or served (thread-safe).

    Probing starts node (~85 ms of wall time): a CLI command that uploads a zip or lists a bucket
    never needs it, and start-up time is a feature."""

    def __init__(self, setting: str | None, timeout: float = 600.0) -> None:
        self._setting = setting
        self._timeout = timeout
        self._lock = threading.Lock()
        self._probed = False
        self._node: NodeZlib | None = None

    def __call__(self) -> NodeZlib | None:
        with self._lock:
            if not self._probed:
                self._node = locate(self._setting, self._timeout)
                self._probed = True
            return self._node
