"""The compose stand-ins (deploy/compose/*.Containerfile) lint clean and build on the same base as
the Glider image, and docker-compose.local.yml names exactly the images scripts/image.sh builds.
(tests/integration/test_image_compose.py builds and runs them.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.deploy import REPO, dockerfile_args, dockerfile_instructions, venv_tool

CONTAINERFILES = sorted((REPO / "deploy" / "compose").glob("*.Containerfile"))


@pytest.mark.parametrize("path", CONTAINERFILES, ids=[p.stem for p in CONTAINERFILES])
def test_containerfile_passes_hadolint(path: Path) -> None:
    run = subprocess.run(
        [venv_tool("hadolint"), str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("path", CONTAINERFILES, ids=[p.stem for p in CONTAINERFILES])
def test_containerfile_defaults_to_the_glider_base(path: Path) -> None:
    glider = dockerfile_args(dockerfile_instructions())["PYTHON_IMAGE"]
    standin = dockerfile_args(dockerfile_instructions(path.read_text()))["PYTHON_IMAGE"]
    assert standin == glider


def test_local_override_uses_the_standins_image_sh_builds() -> None:
    script = (REPO / "scripts" / "image.sh").read_text()
    (names,) = re.findall(r"for name in ([\w ]+); do", script)
    built = {f"localhost/glider-standin-{name}:r1" for name in names.split()}
    assert {p.stem for p in CONTAINERFILES} == set(names.split())
    override = (REPO / "docker-compose.local.yml").read_text()
    named = set(re.findall(r"image: (localhost/glider-standin-[\w-]+:\w+)", override))
    assert named == built
