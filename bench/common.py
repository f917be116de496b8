"""Benchmark data preparation: real release artifacts fetched with pip/npm, plus generated trees.

Everything is cached under `bench/data/` so a second run downloads nothing. No hand steps: the
functions below fetch or generate what is missing. Versions are consecutive releases, so each
artifact series is what a build pipeline would upload over time.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Series:
    """Consecutive versions of one artifact: `files[i]` is version i, all named with `suffix`."""

    name: str
    suffix: str
    files: tuple[Path, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


# (series name, package, versions, kind) — kinds: wheel, sdist, npm.
PYPI_SERIES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("botocore-wheel", "botocore", ("1.34.0", "1.34.1", "1.34.2", "1.34.3", "1.34.4", "1.34.5"), "wheel"),
    ("django-sdist", "Django", ("5.0.1", "5.0.2", "5.0.3", "5.0.4", "5.0.5", "5.0.6"), "sdist"),
)
NPM_SERIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("typescript-npm", "typescript", ("5.4.2", "5.4.3", "5.4.4", "5.4.5", "5.5.2", "5.5.3")),
)


def pip_download(package: str, version: str, kind: str, dest: Path, extra: tuple[str, ...] = ()) -> Path:
    """One `pip download --no-deps` of `package==version` (`kind`: wheel or sdist) into `dest`;
    `extra`: more pip options (a target platform)."""
    dest.mkdir(parents=True, exist_ok=True)
    fmt = ["--only-binary", ":all:"] if kind == "wheel" else ["--no-binary", ":all:"]
    fmt += extra
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                *fmt,
                "-d",
                tmp,
                f"{package}=={version}",
            ],
            check=True,
        )
        (got,) = Path(tmp).iterdir()
        final = dest / got.name
        shutil.move(str(got), final)
    return final


def pypi_series(name: str, package: str, versions: tuple[str, ...], kind: str) -> Series:
    folder = DATA / name
    suffix = ".zip" if kind == "wheel" else ".tar.gz"
    files: list[Path] = []
    for version in versions:
        target = folder / f"{name}-{version}{suffix}"
        if not target.exists():
            got = pip_download(package, version, kind, folder / "raw")
            shutil.copyfile(got, target)
        files.append(target)
    return Series(name, suffix, tuple(files))


def npm_pack(package: str, version: str, target: Path) -> Path:
    """`target`, fetched once with `npm pack` (the registry's tarball, byte for byte)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            subprocess.run(
                ["npm", "pack", "--silent", f"{package}@{version}"],
                cwd=tmp,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            (got,) = Path(tmp).glob("*.tgz")
            shutil.move(str(got), target)
    return target


def npm_series(name: str, package: str, versions: tuple[str, ...]) -> Series:
    folder = DATA / name
    files = [npm_pack(package, version, folder / f"{name}-{version}.tgz") for version in versions]
    return Series(name, ".tgz", tuple(files))


_WORDS = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "build",
    "artifact",
    "release",
    "version",
    "module",
    "function",
    "class",
    "return",
    "import",
    "value",
    "error",
    "config",
    "server",
    "client",
    "request",
    "response",
    "cache",
    "bucket",
    "object",
    "stream",
    "window",
    "source",
    "target",
    "encode",
    "decode",
    "compress",
    "verify",
    "index",
    "table",
    "layer",
    "service",
    "engine",
    "storage",
    "policy",
)


def _file_body(rng: random.Random, size: int) -> bytes:
    """Source-like text (compressible, not trivially) of about `size` bytes."""
    parts: list[str] = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12)))
        line += f" {rng.getrandbits(32):08x}\n"
        parts.append(line)
        total += len(line)
    return "".join(parts).encode()[:size]


def zip_tree_series(
    name: str = "ziptree", files: int = 1800, file_kb: int = 64, versions: int = 6, changed: float = 0.01
) -> Series:
    """A zip of `files` files (two thirds deflated text, one third stored random binary); each next
    version rewrites `changed` of them.

    About files * file_kb KiB uncompressed (default ~115 MiB, ~60 MiB zipped). Deterministic.
    """
    folder = DATA / name
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / f"{name}-v{v}.zip" for v in range(versions)]
    if all(t.exists() for t in targets):
        return Series(name, ".zip", tuple(targets))
    rng = random.Random(20240601)

    def make(idx: int, size: int) -> bytes:
        return rng.randbytes(size) if idx % 3 == 2 else _file_body(rng, size)

    bodies = [make(i, file_kb * 1024 + rng.randint(-4096, 4096)) for i in range(files)]
    for version, target in enumerate(targets):
        if version:
            for idx in rng.sample(range(files), max(1, int(files * changed))):
                bodies[idx] = make(idx, len(bodies[idx]))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for idx, body in enumerate(bodies):
                binary = idx % 3 == 2
                ext = "bin" if binary else "txt"
                info = zipfile.ZipInfo(f"tree/pkg{idx // 100:02d}/file{idx:05d}.{ext}", (2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED if binary else zipfile.ZIP_DEFLATED
                zf.writestr(info, body)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, target)
    return Series(name, ".zip", tuple(targets))


def big_pair(size: int = 1 << 30, name: str = "big") -> tuple[Path, Path]:
    """Two `size`-byte files of incompressible data; the second differs in scattered 64 KiB runs.

    Written in 8 MiB chunks (constant memory). Used for the peak-RSS measurement.
    """
    folder = DATA / name
    folder.mkdir(parents=True, exist_ok=True)
    first, second = folder / f"{name}-v1.bin.tar", folder / f"{name}-v2.bin.tar"
    if first.exists() and second.exists() and first.stat().st_size == size:
        return first, second
    chunk = 8 << 20
    rng = random.Random(7)
    with first.open("wb") as a, second.open("wb") as b:
        for offset in range(0, size, chunk):
            block = rng.randbytes(min(chunk, size - offset))
            a.write(block)
            if (offset // chunk) % 16 == 3:
                edit = bytearray(block)
                at = rng.randrange(0, len(edit) - 65536)
                edit[at : at + 65536] = rng.randbytes(65536)
                block = bytes(edit)
            b.write(block)
    return first, second


def all_series(names: list[str] | None = None) -> list[Series]:
    """Every series (or those named), fetching or generating what is missing."""

    def wanted(name: str) -> bool:
        return not names or name in names

    out = [pypi_series(*spec) for spec in PYPI_SERIES if wanted(spec[0])]
    out += [npm_series(*spec) for spec in NPM_SERIES if wanted(spec[0])]
    if wanted("ziptree"):
        out.append(zip_tree_series())
    return out


if __name__ == "__main__":
    for series in all_series():
        print(series.name, len(series.files), series.total_bytes)
