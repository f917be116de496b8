"""Delta codecs: the interface and the xdelta3 (VCDIFF) implementation, run as a subprocess.

xdelta3 is always run with `-D` on encode: without it xdelta3 decompresses gzip/bzip2/xz inputs
before diffing and recompresses on decode, which is not byte-exact for e.g. a `gzip -9`
tarball. Decode uses `-D` unless the delta's own header says its source was decompressed
(DeltaGlider wrote it without `-D`): then it is decoded DeltaGlider's way and the SHA-256 check
decides whether the recompressed bytes are right.

Errors: a timeout, a missing binary or an encode failure raise CodecError; a decode that fails
on its input (corrupt or truncated delta, wrong source) raises IntegrityError.
"""

from __future__ import annotations

import abc
import os
import selectors
import subprocess
import time
from pathlib import Path

from app.domain.metadata import CODEC_XDELTA3
from app.engine.policy import decode_window, source_window
from app.engine.vcdiff import source_was_decompressed, write_identity_delta
from app.errors import CodecError, IntegrityError

# Failures that are about the machine, not the delta: reported as CodecError on decode too.
_ENVIRONMENT_FAILURES = ("No space left", "ENOSPC", "Permission denied", "Cannot allocate memory", "ENOMEM")


def _clean_env() -> dict[str, str]:
    """The environment minus `XDELTA`, which xdelta3 would read extra arguments from."""
    return {k: v for k, v in os.environ.items() if k != "XDELTA"}


def run_tool(
    argv: list[str], *, timeout: float, what: str, stdin: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a codec binary; translate timeouts and a missing binary into CodecError.

    Returns the completed process (any return code); stderr is captured, stdout discarded,
    stdin reads `stdin` when given.
    """
    try:
        with stdin.open("rb") if stdin is not None else open(os.devnull, "rb") as feed:
            return subprocess.run(
                argv,
                stdin=feed,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
                env=_clean_env(),
                check=False,
            )
    except subprocess.TimeoutExpired:
        raise CodecError(f"{what} timed out after {timeout:g}s") from None
    except FileNotFoundError:
        raise CodecError(f"{what}: {argv[0]!r} not found (install it: scripts/system-deps.sh)") from None


def run_watched(
    argv: list[str], *, timeout: float, what: str, out: Path, size_limit: int | None
) -> subprocess.CompletedProcess[bytes] | None:
    """Like run_tool, but kill the process and return None once `out` grows past `size_limit`.

    Used on encode: a delta over the max ratio is thrown away anyway, so there is no point in
    finishing it (on compressed single-stream archives this saves about half the encode time).
    """
    if size_limit is None:
        return run_tool(argv, timeout=timeout, what=what)
    deadline = time.monotonic() + timeout
    out.unlink(missing_ok=True)  # a leftover bigger file must not look like this run's output
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_clean_env(),
        )
    except FileNotFoundError:
        raise CodecError(f"{what}: {argv[0]!r} not found (install it: scripts/system-deps.sh)") from None
    # Waiting on stderr, not polling `proc.wait(timeout)`: the pipe reports EOF the moment the
    # process exits, where wait's own sleep loop adds up to 50 ms to every encode.
    stderr = bytearray()
    with proc, selectors.DefaultSelector() as selector:
        assert proc.stderr is not None  # stderr=PIPE above
        fd = proc.stderr.fileno()
        selector.register(fd, selectors.EVENT_READ)
        interval = 0.01
        while True:
            if selector.select(interval):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break  # EOF: the process is gone (or closed stderr; the wait below decides)
                stderr += chunk
            else:
                interval = min(interval * 2, 0.1)
            over = out.exists() and out.stat().st_size > size_limit
            if over or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                if over:
                    return None
                raise CodecError(f"{what} timed out after {timeout:g}s")
        try:
            proc.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise CodecError(f"{what} timed out after {timeout:g}s") from None
    return subprocess.CompletedProcess(argv, proc.returncode, None, bytes(stderr))


def first_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[0] if lines else "no message"


def decode_failure(what: str, stderr: bytes) -> IntegrityError | CodecError:
    message = first_line(stderr)
    if any(marker in stderr.decode("utf-8", "replace") for marker in _ENVIRONMENT_FAILURES):
        return CodecError(f"{what} failed: {message}")
    return IntegrityError(f"{what} failed, the delta is corrupt or truncated: {message}")


class DeltaCodec(abc.ABC):
    """Turns (source, target) into a delta and back. Implementations are thread-safe."""

    name: str

    @abc.abstractmethod
    def encode(self, source: Path, target: Path, out: Path, *, size_limit: int | None = None) -> bool:
        """Write a delta turning `source` into `target` to `out` (overwritten).

        With `size_limit`, give up as soon as the delta is known to exceed it and return False
        (the content of `out` is then undefined); otherwise return True.
        """

    @abc.abstractmethod
    def decode(self, source: Path, delta: Path, out: Path) -> None:
        """Rebuild the target from `source` and `delta` into `out` (overwritten)."""

    @abc.abstractmethod
    def command_line(self, target_name: str) -> str:
        """The informational command recorded in `dg-delta-cmd`."""

    def encode_identity(self, source: Path, out: Path) -> None:
        """Write the zero-diff delta of `source` against itself (the first file of a deltaspace)."""
        self.encode(source, source, out)

    def decode_expanded(self, source: Path, delta: Path, out: Path) -> bool:
        """For a delta whose encoder decompressed its inputs (deltaglider without -D): write the
        decompressed target, not recompressed, to `out`. False when this codec cannot."""
        return False


class XDelta3Codec(DeltaCodec):
    """VCDIFF via the xdelta3 binary; readable by DeltaGlider 6.x.

    `level` (0-9) and `secondary` (none, djw, fgk, lzma) trade speed for delta size;
    `target_matching` lets xdelta3 also search the target itself for repeats (no `-N`), which
    is slow on compressed content and gained little in our measurements; the source
    window (-B) covers the reference as far as `memory_budget_bytes` (the codec process's
    resident memory) allows; see `policy.source_window`. `timeout` bounds each run in seconds.
    """

    name = CODEC_XDELTA3

    def __init__(
        self,
        level: int = 3,
        secondary: str = "none",
        memory_budget_bytes: int = 256 << 20,
        timeout: float = 600.0,
        *,
        target_matching: bool = False,
        binary: str = "xdelta3",
    ) -> None:
        if not 0 <= level <= 9:
            raise ValueError(f"xdelta3 level must be 0-9, got {level}")
        if secondary not in ("none", "djw", "fgk", "lzma"):
            raise ValueError(f"unknown xdelta3 secondary compressor {secondary!r}")
        self.level = level
        self.secondary = secondary
        self.target_matching = target_matching
        self.memory_budget_bytes = memory_budget_bytes
        self.timeout = timeout
        self.binary = binary

    def _window(self, source: Path, *, decode: bool = False) -> list[str]:
        pick = decode_window if decode else source_window
        return ["-B", str(pick(source.stat().st_size, self.memory_budget_bytes))]

    def _flags(self) -> list[str]:
        return [f"-{self.level}", *([] if self.target_matching else ["-N"]), "-S", self.secondary]

    def encode(self, source: Path, target: Path, out: Path, *, size_limit: int | None = None) -> bool:
        argv = [
            self.binary, "-e", "-f", "-D", *self._flags(),
            *self._window(source), "-s", str(source), str(target), str(out),
        ]  # fmt: skip
        done = run_watched(argv, timeout=self.timeout, what="xdelta3 encode", out=out, size_limit=size_limit)
        if done is None:
            return False
        if done.returncode != 0:
            raise CodecError(f"xdelta3 encode failed: {first_line(done.stderr)}")
        return size_limit is None or out.stat().st_size <= size_limit

    def decode(self, source: Path, delta: Path, out: Path) -> None:
        # Deltas encoded with -D (ours, the proxy's) must be decoded with -D too, or xdelta3
        # decompresses a gzip/bzip2/xz source and applies the delta to the wrong bytes. A delta
        # DeltaGlider made without -D says so in its header and is decoded its way.
        raw = [] if source_was_decompressed(delta) else ["-D"]
        argv = [
            self.binary,
            "-d",
            "-f",
            *raw,
            *self._window(source, decode=True),
            "-s",
            str(source),
            str(delta),
            str(out),
        ]
        done = run_tool(argv, timeout=self.timeout, what="xdelta3 decode")
        if done.returncode != 0:
            raise decode_failure("xdelta3 decode", done.stderr)

    def decode_expanded(self, source: Path, delta: Path, out: Path) -> bool:
        if not source_was_decompressed(delta):
            return False
        argv = [
            # The source reaches xdelta3 through an external decompressor (a pipe, not seekable):
            # give it the largest window the memory budget allows.
            self.binary, "-d", "-f", "-R", "-B", str(source_window(1 << 40, self.memory_budget_bytes)),
            "-s", str(source), str(delta), str(out),
        ]  # fmt: skip
        done = run_tool(argv, timeout=self.timeout, what="xdelta3 decode")
        if done.returncode != 0:
            raise decode_failure("xdelta3 decode", done.stderr)
        return True

    def encode_identity(self, source: Path, out: Path) -> None:
        """A hand-built VCDIFF that copies the whole source: no need to diff a file with itself."""
        write_identity_delta(source.stat().st_size, out)

    def command_line(self, target_name: str) -> str:
        flags = " ".join(self._flags())
        return f"xdelta3 -e -D {flags} -s reference.bin {target_name} {target_name}.delta"
