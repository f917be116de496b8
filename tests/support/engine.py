"""Helpers for engine tests: building a DeltaEngine on a store, and artifact-like files."""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import sys
import tarfile
from pathlib import Path

from prometheus_client import CollectorRegistry

from app.caches.base import ReferenceCache
from app.caches.memory import MemoryReferenceCache
from app.engine.codec import DeltaCodec, XDelta3Codec
from app.engine.engine import DeltaEngine
from app.engine.gzip_form import GzipSettings
from app.engine.references import ReferenceProvider
from app.observability.metrics import Metrics
from app.storage.base import ObjectStore


def make_engine(
    store: ObjectStore,
    work_dir: Path,
    *,
    cache: ReferenceCache | None = None,
    codec: DeltaCodec | None = None,
    max_ratio: float = 0.5,
    metrics: Metrics | None = None,
    gzip: GzipSettings | None = None,
) -> DeltaEngine:
    metrics = metrics or Metrics(CollectorRegistry())
    references = ReferenceProvider(
        store, cache or MemoryReferenceCache(max_bytes=256 << 20), work_dir=work_dir, metrics=metrics
    )
    return DeltaEngine(
        store,
        codec or XDelta3Codec(),
        references,
        max_ratio=max_ratio,
        work_dir=work_dir,
        metrics=metrics,
        gzip=gzip,
    )


def versions(base_size: int, count: int, seed: int = 1, edits: int = 4) -> list[bytes]:
    """`count` versions of an incompressible artifact: each edits a few 2 KiB runs of the first."""
    rng = random.Random(seed)
    base = rng.randbytes(base_size)
    out = [base]
    for _ in range(count - 1):
        data = bytearray(base)
        for _ in range(edits):
            at = rng.randrange(0, max(1, base_size - 2048))
            data[at : at + 2048] = rng.randbytes(min(2048, base_size - at))
        out.append(bytes(data))
    return out


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def gzip9_tarball(files: dict[str, bytes]) -> bytes:
    """A `.tar.gz` compressed with gzip level 9 (what DeltaGlider's xdelta3 call corrupts)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def source_tree(rng: random.Random, files: int = 40, size: int = 6000) -> dict[str, bytes]:
    """Text-like files (compressible) for tarballs."""
    words = [f"w{n}" for n in range(300)]
    return {
        f"pkg/mod{i}.py": " ".join(rng.choice(words) for _ in range(size // 4)).encode()[:size]
        for i in range(files)
    }


DELTAGLIDER = Path(sys.executable).parent / "deltaglider"


def run_deltaglider(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the real `deltaglider` 6.2.0 CLI against the S3 described by `env`; never raises on failure."""
    return subprocess.run(
        [str(DELTAGLIDER), *map(str, args)],
        env=deltaglider_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def deltaglider_uploads(env: dict[str, str], bucket: str, uploads: dict[str, bytes], tmp_path: Path) -> None:
    """Each of `uploads` (key: bytes) by its own `deltaglider cp`, in order, from a file named as the
    key's last part (deltaglider keeps the local name); an exit other than 0 fails the test."""
    for n, (key, blob) in enumerate(uploads.items()):
        folder = tmp_path / f"dg-up-{n}"
        folder.mkdir()
        done = run_deltaglider(env, "cp", write(folder, key.rpartition("/")[2], blob), f"s3://{bucket}/{key}")
        assert done.returncode == 0, done.stderr


def deltaglider_env(base: dict[str, str]) -> dict[str, str]:
    """Environment for the `deltaglider` 6.2.0 CLI: the test S3, and nothing that leaves loopback."""
    return base | {
        "DG_DISABLE_EC2_DETECTION": "1",  # it probes the EC2 metadata service otherwise
        "AWS_EC2_METADATA_DISABLED": "true",
        "DG_METRICS": "noop",
        "DG_SUPPRESS_DEPRECATION": "1",
        "DG_LOG_LEVEL": "WARNING",
    }
