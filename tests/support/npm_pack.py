"""npm tarballs made offline by the real npm (`npm pack` of a generated local package): their
gzip streams come from node's bundled zlib, which stock zlib does not reproduce."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

NODE = shutil.which("node")
NPM = shutil.which("npm")


def _module(rng: random.Random, words: list[str], lines: int) -> str:
    return "\n".join(
        f"function {rng.choice(words)}_{j}({rng.choice(words)}, {rng.choice(words)}) "
        f"{{ return {rng.choice(words)} + {rng.randint(0, 999)}; }}"
        for j in range(lines)
    )


def npm_pack_versions(workdir: Path, count: int, *, seed: int = 5, modules: int = 16) -> list[bytes]:
    """`count` versions of one package, each editing one module, packed by `npm pack --offline`."""
    assert NPM is not None, "npm is not installed (scripts/system-deps.sh test)"
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(300)
    ]
    pkg = workdir / "pkg"
    (pkg / "lib").mkdir(parents=True)
    for i in range(modules):
        (pkg / "lib" / f"m{i}.js").write_text(_module(rng, words, 300))
    out = []
    for n in range(count):
        version = f"1.0.{n}"
        (pkg / "package.json").write_text(
            json.dumps({"name": "glider-pack", "version": version, "files": ["lib"]})
        )
        (pkg / "lib" / f"m{rng.randrange(modules)}.js").write_text(_module(rng, words, 300))
        subprocess.run(
            [NPM, "pack", "--offline", "--silent", "--cache", str(workdir / "npm-cache"),
             "--pack-destination", str(workdir)],
            cwd=pkg, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        out.append((workdir / f"glider-pack-{version}.tgz").read_bytes())
    return out
