"""The release-artifact series of bench.artifacts and bench.artifacts_bzxz, fetched or made once.

Everything lands under bench/data/artifacts/ (gitignored) and is kept between runs: real PyPI
sdists and wheels (`pip download --no-deps`), real npm tarballs (`npm pack`), the requests sdists
recompressed by GNU gzip -9, a generated ~20 MB tree as .tar.gz and .zip, and two ~1 GiB .tar.gz
for the peak-RSS part. A second run downloads and writes nothing.
"""

from __future__ import annotations

import gzip
import random
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.common import DATA, npm_pack, pip_download

_WORDS = ("build", "release", "module", "config", "value", "return", "import", "class", "test", "data")

HERE = DATA / "artifacts"

PYPI = (  # (series, package, versions, kind: sdist | wheel)
    ("requests-sdist", "requests", ("2.31.0", "2.32.0", "2.32.3"), "sdist"),
    ("django-sdist", "Django", ("5.0.1", "5.0.2", "5.0.3", "5.0.4"), "sdist"),
    ("boto3-wheel", "boto3", tuple(f"1.35.{n}" for n in range(6)), "wheel"),
    ("numpy-wheel", "numpy", ("1.26.2", "1.26.3", "1.26.4"), "wheel"),
)
NPM = (
    ("lodash-npm", "lodash", ("4.17.19", "4.17.20", "4.17.21")),
    ("typescript-npm", "typescript", ("5.4.2", "5.4.3", "5.4.4", "5.4.5")),
)


@dataclass(frozen=True)
class Series:
    name: str
    files: tuple[Path, ...]
    zlib_gzip: bool = False  # a zlib-made .tar.gz/.tgz series (the 15% / 45% targets)

    @property
    def total(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def pypi_file(package: str, version: str, kind: str, folder: Path) -> Path:
    """`package==version` (`kind`: wheel or sdist) in `folder`, downloaded unless that version is
    there (numpy: the manylinux x86_64 CPython 3.11 wheel, whatever this machine runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    found = [
        p for p in folder.iterdir() if f"-{version}" in p.name and p.name.lower().startswith(package.lower())
    ]
    if found:
        return found[0]
    platform: tuple[str, ...] = ()
    if kind == "wheel" and package == "numpy":
        platform = (
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--platform",
            "manylinux2014_x86_64",
        )
    return pip_download(package, version, kind, folder, platform)


def npm_file(package: str, version: str, folder: Path) -> Path:
    """`package@version`'s registry tarball as `folder/package-version.tgz`, packed once."""
    return npm_pack(package, version, folder / f"{package}-{version}.tgz")


def _gnu_series(source: Series) -> Series:
    """The requests sdists' tars recompressed by GNU gzip -9 (its own deflate, not zlib)."""
    folder = HERE / "gnu-gzip-tar"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for path in source.files:
        target = folder / path.name.replace(".tar.gz", "-gnu9.tar.gz")
        if not target.exists():
            raw = gzip.decompress(path.read_bytes())
            target.write_bytes(
                subprocess.run(["gzip", "-9", "-n", "-c"], input=raw, capture_output=True, check=True).stdout
            )
        files.append(target)
    return Series("gnu-gzip9-tar", tuple(files))


def _tree(rng: random.Random, files: int, size: int) -> dict[str, bytes]:
    return {
        f"src/m{i}/f{i}.txt": " ".join(
            rng.choice(_WORDS) + str(rng.randrange(5000)) for _ in range(size // 9)
        ).encode()
        for i in range(files)
    }


def same_size_pair() -> tuple[Series, Series]:
    """Two versions of one ~20 MB tree as .tar.gz (Python tarfile, zlib level 6) and as .zip."""
    folder = HERE / "20mb"
    folder.mkdir(parents=True, exist_ok=True)
    tgz = (folder / "app-1.tar.gz", folder / "app-2.tar.gz")
    zips = (folder / "app-1.zip", folder / "app-2.zip")
    if not all(p.exists() for p in (*tgz, *zips)):
        rng = random.Random(20)
        tree = _tree(rng, 400, 150_000)
        for version, (tpath, zpath) in enumerate(zip(tgz, zips, strict=True)):
            if version:
                for i in rng.sample(range(400), 8):
                    tree[f"src/m{i}/f{i}.txt"] = _tree(rng, 1, 150_000)["src/m0/f0.txt"]
            with tarfile.open(tpath, "w:gz", compresslevel=6) as tar:
                for name in sorted(tree):
                    path = folder / "tmp.txt"
                    path.write_bytes(tree[name])
                    tar.add(path, arcname=name)
            with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
                for name in sorted(tree):
                    zf.writestr(name, tree[name])
        (folder / "tmp.txt").unlink(missing_ok=True)
    return Series("20mb-tar-gz", tgz, zlib_gzip=True), Series("20mb-zip", zips)


def prepare() -> tuple[list[Series], tuple[Series, Series]]:
    """bench.artifacts' series (PyPI, npm, GNU gzip) and its 20 MB .tar.gz / .zip pair."""
    out = []
    for name, package, versions, kind in PYPI:
        files = tuple(pypi_file(package, v, kind, HERE / name) for v in versions)
        out.append(Series(name, files, zlib_gzip=kind == "sdist"))
    for name, package, versions in NPM:
        out.append(Series(name, tuple(npm_file(package, v, HERE / name) for v in versions), zlib_gzip=True))
    out.append(_gnu_series(out[0]))
    return out, same_size_pair()


def big_tgz_pair() -> tuple[Path, Path]:
    """Two ~1 GiB .tar.gz (zlib level 1 over incompressible members), the second with 16 members
    replaced: written member by member, never whole in memory."""
    folder = HERE / "1gib"
    folder.mkdir(parents=True, exist_ok=True)
    pair = (folder / "big-1.tar.gz", folder / "big-2.tar.gz")
    if all(p.exists() for p in pair):
        return pair
    member = folder / "member.bin"
    for version, path in enumerate(pair):
        rng = random.Random(1)
        with tarfile.open(path, "w:gz", compresslevel=1) as tar:
            for n in range(128):
                data = rng.randbytes(8 << 20)
                if version and n % 8 == 3:
                    data = random.Random(n).randbytes(8 << 20)
                member.write_bytes(data)
                tar.add(member, arcname=f"blob/{n:03d}.bin")
    member.unlink()
    return pair
