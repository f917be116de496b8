"""The Dockerfile lints clean and has the shape the issue asks for: multi-stage on a pinned slim
Python 3.11, xdelta3 from Debian (a package apt knows), a numeric non-root user matching the
Deployment, a curl-free HEALTHCHECK on /healthz, `glider serve` as the entry point.
(tests/integration/test_deploy_entrypoint.py runs the entry command and the health check.)
"""

from __future__ import annotations

import subprocess

import pytest

from tests.support.deploy import (
    DOCKERFILE,
    DOCKERIGNORE,
    REPO,
    apt_packages,
    base_images,
    container,
    dockerfile_env,
    dockerfile_instructions,
    exec_form,
    final_stage,
    pod_spec,
    venv_tool,
)


def test_dockerfile_passes_hadolint() -> None:
    run = subprocess.run(
        [venv_tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_dockerfile_shape() -> None:
    instructions = dockerfile_instructions()
    assert sum(ins.keyword == "FROM" for ins in instructions) >= 2, "multi-stage build"
    assert all(img.startswith("python:3.11") and "slim" in img for img in base_images(instructions))
    runtime = final_stage(instructions)
    users = [ins.value for ins in runtime if ins.keyword == "USER"]
    assert users, "the runtime stage must switch to a non-root user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric uid (runAsNonRoot can verify it)"
    assert int(uid) != 0, "non-root uid"
    assert pod_spec()["securityContext"]["runAsUser"] == int(uid)
    (entry,) = [exec_form(ins) for ins in runtime if ins.keyword == "ENTRYPOINT"]
    assert entry == ["glider", "serve"], (
        "glider serve: HTTP limits, DG_HOST/DG_PORT and JSON logs like anywhere else"
    )
    env = dockerfile_env(instructions)
    assert env["DG_HOST"] == "0.0.0.0"
    assert env["DG_PORT"] == str(container()["ports"][0]["containerPort"])
    (check,) = [exec_form(ins) for ins in runtime if ins.keyword == "HEALTHCHECK"]
    assert check[0] == "python", "HEALTHCHECK needs no curl"
    assert "/healthz" in check[-1]
    assert "xdelta3" in {pkg.partition("=")[0] for pkg in apt_packages(instructions)}


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    kept = {
        line[1:].strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines() if line.startswith("!")
    }
    for ins in dockerfile_instructions():
        if ins.keyword == "COPY" and "--from" not in ins.value:
            for source in ins.value.split()[:-1]:
                assert source in kept, f"COPY {source} but .dockerignore excludes it"
                assert (REPO / source).exists()


@pytest.mark.parametrize("package", apt_packages(dockerfile_instructions()))
def test_debian_package_in_dockerfile_exists(package: str) -> None:
    # The image is Debian 12 like this machine: the pinned version must be one apt knows.
    run = subprocess.run(
        ["apt-cache", "show", package], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "Package:" in run.stdout
