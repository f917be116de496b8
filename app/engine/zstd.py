"""Opt-in codec: `zstd --patch-from`, much faster than xdelta3 for slightly bigger deltas.

Not VCDIFF: DeltaGlider cannot read these deltas, so they carry `dg-codec: zstd-patch` and are
only written when the operator chooses this codec (DG_CODEC=zstd). Limits: the reference and
the target must each fit zstd's largest window (2 GiB); zstd holds the reference in memory.
"""

from __future__ import annotations

from pathlib import Path

from app.domain.metadata import CODEC_ZSTD
from app.engine.codec import DeltaCodec, decode_failure, first_line, run_tool, run_watched
from app.errors import CodecError

MAX_WINDOW_LOG = 31


def window_log(*sizes: int) -> int:
    """The smallest zstd window log (>= 20) covering every size; CodecError past 2 GiB."""
    biggest = max(*sizes, 1)
    log = max(20, (biggest - 1).bit_length())
    if log > MAX_WINDOW_LOG:
        raise CodecError(f"zstd --patch-from handles files up to 2 GiB, got {biggest} bytes")
    return log


class ZstdPatchCodec(DeltaCodec):
    """zstd `--patch-from` at `level`; `memory_budget_bytes` caps decoder memory."""

    name = CODEC_ZSTD

    def __init__(
        self,
        level: int = 3,
        memory_budget_bytes: int = 2048 << 20,
        timeout: float = 600.0,
        *,
        binary: str = "zstd",
    ) -> None:
        self.level = level
        self.memory_budget_bytes = memory_budget_bytes
        self.timeout = timeout
        self.binary = binary

    def encode(self, source: Path, target: Path, out: Path, *, size_limit: int | None = None) -> bool:
        log = window_log(source.stat().st_size, target.stat().st_size)
        argv = [
            self.binary, "-q", "-f", f"-{self.level}", f"--long={log}", f"--patch-from={source}",
            str(target), "-o", str(out),
        ]  # fmt: skip
        done = run_watched(argv, timeout=self.timeout, what="zstd encode", out=out, size_limit=size_limit)
        if done is None:
            return False
        if done.returncode != 0:
            raise CodecError(f"zstd encode failed: {first_line(done.stderr)}")
        return size_limit is None or out.stat().st_size <= size_limit

    def encode_identity(self, source: Path, out: Path) -> None:
        """zstd refuses one file as both input and dictionary, so the input comes on stdin."""
        size = source.stat().st_size
        argv = [
            self.binary, "-q", "-f", f"-{self.level}", f"--long={window_log(size)}", f"--stream-size={size}",
            f"--patch-from={source}", "-o", str(out),
        ]  # fmt: skip
        done = run_tool(argv, timeout=self.timeout, what="zstd encode", stdin=source)
        if done.returncode != 0:
            raise CodecError(f"zstd encode failed: {first_line(done.stderr)}")

    def decode(self, source: Path, delta: Path, out: Path) -> None:
        memory_mb = max(1, self.memory_budget_bytes >> 20)
        argv = [
            self.binary, "-q", "-d", "-f", f"--long={MAX_WINDOW_LOG}", f"--memory={memory_mb}MB",
            f"--patch-from={source}", str(delta), "-o", str(out),
        ]  # fmt: skip
        done = run_tool(argv, timeout=self.timeout, what="zstd decode")
        if done.returncode != 0:
            raise decode_failure("zstd decode", done.stderr)

    def command_line(self, target_name: str) -> str:
        return f"zstd -{self.level} --long --patch-from=reference.bin {target_name} -o {target_name}.delta"
