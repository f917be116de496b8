"""The compose file and the Kubernetes manifests agree with the code: they parse, validate
against their schemas, pin their images, set only variables Settings reads (with values Settings
accepts), lock the pods down, and probe routes the app really serves. No container engine or
cluster is needed. (Dockerfile: test_deploy_dockerfile.py; PromQL: test_deploy_monitoring_static.py.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from starlette.applications import Starlette
from starlette.routing import Match

from app.main import create_app
from app.settings import Settings
from tests.support.deploy import (
    ALERTS,
    COMPOSE,
    DEPLOY,
    K8S,
    PROMETHEUS_CONFIG,
    REPO,
    accepted_env_names,
    base_images,
    compose,
    container,
    dockerfile_env,
    dockerfile_instructions,
    exec_form,
    glider_services,
    k8s_env,
    k8s_object,
    k8s_objects,
    load_yaml_documents,
    pod_spec,
    replicas,
    venv_tool,
    yaml_files,
)

KUBERNETES_VERSION = "1.29.0"  # oldest version the manifests promise to work on
BUILTIN_KINDS = {
    "Namespace",
    "ConfigMap",
    "Secret",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
}


# --- every file parses ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_yaml_file_parses(path: Path) -> None:
    documents = load_yaml_documents(path)
    assert documents, f"{path} holds no YAML document"
    assert all(isinstance(doc, dict) for doc in documents)


@pytest.mark.parametrize("path", sorted(DEPLOY.rglob("*.json")), ids=lambda p: str(p.relative_to(REPO)))
def test_json_file_parses(path: Path) -> None:
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


def test_compose_file_matches_the_compose_spec() -> None:
    run = subprocess.run(
        [venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    "obj",
    [obj for obj in k8s_objects() if obj["kind"] in BUILTIN_KINDS],
    ids=lambda o: f"{o['kind']}/{o['metadata']['name']}",
)
def test_kubernetes_object_matches_its_schema(obj: dict[str, Any]) -> None:
    # strict: unknown fields (typos like `readinesProbe`) fail too.
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_kind_the_issue_asks_for_is_present() -> None:
    kinds = {obj["kind"] for obj in k8s_objects()}
    assert BUILTIN_KINDS | {"ServiceMonitor", "PrometheusRule", "Kustomization"} <= kinds


def test_kustomization_lists_every_manifest() -> None:
    listed = set(k8s_object("Kustomization")["resources"])
    present = {p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present


# --- images -----------------------------------------------------------------------------------------


def all_images() -> list[str]:
    images = [svc["image"] for svc in compose()["services"].values()]
    images += [c["image"] for c in pod_spec()["containers"]]
    images += base_images(dockerfile_instructions())
    return images


@pytest.mark.parametrize("image", sorted(set(all_images())))
def test_image_is_pinned(image: str) -> None:
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    assert ":" in last or digest, f"{image} has no tag"
    tag = last.partition(":")[2]
    assert tag, f"{image} has no tag"
    assert tag != "latest", f"{image} is not pinned"
    assert "$" not in tag, f"{image} tag is a variable"


# --- environment ------------------------------------------------------------------------------------


def env_sources() -> list[tuple[str, dict[str, str]]]:
    sources = [(f"compose {name}", dict(svc["environment"])) for name, svc in glider_services().items()]
    sources.append(("k8s deployment", k8s_env()))
    docker_env = dockerfile_env(dockerfile_instructions())
    sources.append(("Dockerfile ENV", {k: v for k, v in docker_env.items() if k.startswith(("DG_", "AWS_"))}))
    return sources


@pytest.mark.parametrize(("origin", "env"), env_sources(), ids=[s[0] for s in env_sources()])
def test_every_variable_set_is_one_settings_reads(origin: str, env: dict[str, str]) -> None:
    accepted = accepted_env_names()
    unknown = sorted(name for name in env if name.upper() not in accepted)
    assert not unknown, f"{origin} sets variables nothing reads: {unknown}"


def test_settings_env_names_are_derived_not_listed() -> None:
    # Guards the derivation itself: a known aliased name and a prefixed name must both appear.
    accepted = accepted_env_names()
    assert {"DG_API_TOKENS", "DG_CACHE_BACKEND", "DG_STATS_FRESH_SECONDS", "AWS_ENDPOINT_URL"} <= accepted
    assert "DG_AUTH_TOKEN" not in accepted


@pytest.mark.parametrize(("origin", "env"), env_sources(), ids=[s[0] for s in env_sources()])
def test_values_set_are_accepted_by_settings(
    origin: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("DG_", "AWS_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    settings = Settings()  # raises SettingsError on a bad value
    if "DG_API_TOKENS" in env:
        assert settings.auth.token_scopes(), origin
    if "DG_CACHE_DIR" in env:
        assert str(settings.cache.dir) == env["DG_CACHE_DIR"]
    if "AWS_ENDPOINT_URL" in env:
        assert settings.s3.endpoint_url == env["AWS_ENDPOINT_URL"]


# --- Kubernetes semantics ------------------------------------------------------------------------


def test_deployment_security_context_is_restrictive() -> None:
    pod = pod_spec()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    ctx = container()["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert "add" not in ctx["capabilities"]
    assert ctx.get("privileged", False) is False
    assert pod_spec()["automountServiceAccountToken"] is False


def test_writable_paths_are_emptydirs() -> None:
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    cache_dir = k8s_env()["DG_CACHE_DIR"]
    for path in ("/tmp", cache_dir):
        assert path in mounts, f"{path} must be writable on a read-only root"
        assert "emptyDir" in volumes[mounts[path]]
    cache_limit_gi = float(volumes[mounts[cache_dir]]["emptyDir"]["sizeLimit"].removesuffix("Gi"))
    assert int(k8s_env()["DG_CACHE_DISK_SIZE_MB"]) < cache_limit_gi * 1024, "cache budget exceeds its volume"


def test_resources_are_set() -> None:
    resources = container()["resources"]
    for kind in ("cpu", "memory"):
        assert kind in resources["requests"]
    assert "memory" in resources["limits"]


def test_selectors_and_references_agree() -> None:
    pod_labels = k8s_object("Deployment")["spec"]["template"]["metadata"]["labels"]
    service = k8s_object("Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert k8s_object("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert k8s_object("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == "glider"
    monitor = k8s_object("ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    port_names = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names
    sources = container()["envFrom"]
    assert {s["configMapRef"]["name"] for s in sources if "configMapRef" in s} == {
        k8s_object("ConfigMap")["metadata"]["name"]
    }
    assert {s["secretRef"]["name"] for s in sources if "secretRef" in s} == {
        k8s_object("Secret")["metadata"]["name"]
    }


def test_secret_holds_only_placeholders() -> None:
    values = k8s_object("Secret")["stringData"].values()
    assert all("REPLACE_ME" in value for value in values)


def test_prometheusrule_carries_the_same_rules_as_alerts_yml() -> None:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    assert k8s_object("PrometheusRule")["spec"]["groups"] == groups, (
        "deploy/k8s/prometheusrule.yaml is stale: python deploy/render_prometheusrule.py"
    )


# --- compose semantics --------------------------------------------------------------------------


def test_compose_runs_two_replicas_scraped_by_prometheus() -> None:
    services = compose()["services"]
    assert len(replicas()) == 2
    scrape = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    (job,) = [job for job in scrape["scrape_configs"] if job["job_name"] == "glider"]
    targets = {t for static in job["static_configs"] for t in static["targets"]}
    port = dockerfile_env(dockerfile_instructions())["DG_PORT"]
    assert targets == {f"{svc.get('hostname', name)}:{port}" for name, svc in replicas().items()}
    assert {"seaweedfs", "redis", "prometheus", "grafana"} <= set(services)
    assert "-master.telemetry=false" in services["seaweedfs"]["command"]
    for svc in replicas().values():
        assert svc["environment"]["DG_REDIS_URL"].startswith("redis://redis:")
        assert svc["environment"]["AWS_ENDPOINT_URL"] == "http://seaweedfs:8333"
        assert svc["read_only"] is True


def test_compose_bind_mounts_exist() -> None:
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            if isinstance(volume, str) and volume.startswith("./"):
                source = volume.split(":")[0]
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_every_published_port_binds_loopback() -> None:
    for name, svc in compose()["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_grafana_is_provisioned_with_datasource_and_dashboard() -> None:
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("./"))
    provisioning = REPO / "deploy/grafana/provisioning"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    (datasource,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((provisioning / "dashboards/glider.yml").read_text())["providers"]
    dashboard_mount = mounts["./deploy/grafana/dashboard.json"]
    assert Path(dashboard_mount).parent == Path(provider["options"]["path"])


# --- probes point at real routes (needs app.main) -------------------------------------------------


def probe_paths() -> set[str]:
    paths = {
        container()[probe]["httpGet"]["path"] for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    (check,) = [exec_form(i) for i in dockerfile_instructions() if i.keyword == "HEALTHCHECK"]
    found = re.search(r"http://127\.0\.0\.1:[^/]+(/\w+)", check[-1])
    assert found is not None, check[-1]
    paths.add(found.group(1))
    return paths


def metrics_paths() -> set[str]:
    scrape = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    paths = {
        job.get("metrics_path", "/metrics") for job in scrape["scrape_configs"] if job["job_name"] == "glider"
    }
    return paths | {e["path"] for e in k8s_object("ServiceMonitor")["spec"]["endpoints"]}


def serves_get(app: Starlette, path: str) -> bool:
    """Whether a GET of `path` reaches an endpoint of `app` (Starlette's own route matching)."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    return any(route.matches(scope)[0] == Match.FULL for route in app.router.routes)


def test_probes_and_scrapes_hit_real_routes(tmp_path: Path) -> None:
    settings = Settings(cache={"dir": tmp_path / "cache"}, engine={"work_dir": tmp_path / "work"})
    app = create_app(settings)  # builds routes only; services start in the lifespan, not here
    assert probe_paths() == {"/healthz", "/readyz"}
    assert metrics_paths() == {"/metrics"}
    assert not serves_get(app, "/no-such-path")
    missing = {path for path in probe_paths() | metrics_paths() if not serves_get(app, path)}
    assert not missing, f"probes or scrapes target paths the app does not serve: {missing}"
