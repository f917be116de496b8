"""Readers for the ship-and-operate files (Dockerfile, compose, deploy/), shared by their tests.

Everything here reads files; nothing starts a process. The Dockerfile reader understands the
subset the project's Dockerfile uses: line continuations, comments, ARG defaults, JSON-form
CMD/ENTRYPOINT/HEALTHCHECK.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.settings import Group, Settings, field_specs

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "docker-compose.yml"
K8S = DEPLOY / "k8s"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboard.json"

# Variables boto3/botocore read themselves (credentials chain, endpoints, IRSA), beyond the ones
# Settings names as aliases. Anything else set in a manifest is a typo or a dead setting.
BOTO_ENV = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
        "AWS_CA_BUNDLE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_STS_REGIONAL_ENDPOINTS",
    }
)


def venv_tool(name: str) -> str:
    """A console script installed beside this interpreter (the venv), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    assert found is not None, f"{name} not installed: pip install -e '.[dev]'"
    return found


def yaml_files() -> list[Path]:
    """Every YAML file that ships: the compose file and everything under deploy/."""
    found = [COMPOSE, *DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")]
    return sorted(found)


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def k8s_objects() -> list[dict[str, Any]]:
    """Every Kubernetes object under deploy/k8s (the Kustomization included)."""
    objects: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        objects.extend(load_yaml_documents(path))
    return objects


def k8s_object(kind: str) -> dict[str, Any]:
    matches = [obj for obj in k8s_objects() if obj.get("kind") == kind]
    assert len(matches) == 1, f"expected one {kind} in deploy/k8s, found {len(matches)}"
    return matches[0]


def settings_env_names() -> frozenset[str]:
    """Every environment variable Settings reads, derived from the Settings classes themselves.

    A field whose `setting` lists names is read from those only; any other field from its group's
    `env_prefix` + field name. Upper-cased (matched case-insensitively).
    """
    names: set[str] = set()
    for group_field in field_specs(Settings):
        group = group_field.annotation
        assert isinstance(group, type), group
        assert issubclass(group, Group), group
        for field in field_specs(group):
            names.update(field.names)
    return frozenset(names)


def accepted_env_names() -> frozenset[str]:
    return settings_env_names() | BOTO_ENV


# --- Dockerfile ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper-cased
    value: str  # the rest of the logical line, continuations joined


def dockerfile_instructions(text: str | None = None) -> list[Instruction]:
    if text is None:
        text = DOCKERFILE.read_text(encoding="utf-8")
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    result = []
    for line in logical:
        keyword, _, value = line.partition(" ")
        result.append(Instruction(keyword.upper(), value.strip()))
    return result


def dockerfile_args(instructions: list[Instruction]) -> dict[str, str]:
    args: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.value:
            name, _, default = ins.value.partition("=")
            args[name.strip()] = default.strip()
    return args


def base_images(instructions: list[Instruction]) -> list[str]:
    """The FROM images with ARG defaults substituted; stage names (FROM build) are excluded."""
    args = dockerfile_args(instructions)
    stages: set[str] = set()
    images: list[str] = []
    for ins in instructions:
        if ins.keyword != "FROM":
            continue
        parts = ins.value.split()
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
        if image not in stages:
            images.append(image)
        if len(parts) >= 3 and parts[1].upper() == "AS":
            stages.add(parts[2])
    return images


def exec_form(ins: Instruction) -> list[str]:
    """A JSON-form command (`["a", "b"]`) as a list; shell form is rejected on purpose."""
    value = ins.value
    if ins.keyword == "HEALTHCHECK":
        value = value[value.index("CMD") + len("CMD") :].strip()
    parsed = json.loads(value)
    assert isinstance(parsed, list), value
    assert all(isinstance(p, str) for p in parsed), value
    return list(parsed)


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return instructions[last_from:]


def dockerfile_env(instructions: list[Instruction]) -> dict[str, str]:
    """ENV of the final stage (`ENV A=1 B=2` form)."""
    env: dict[str, str] = {}
    for ins in final_stage(instructions):
        if ins.keyword == "ENV":
            for token in shlex.split(ins.value):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def apt_packages(instructions: list[Instruction]) -> list[str]:
    """`name` or `name=version` arguments of every `apt-get install` in RUN lines."""
    packages: list[str] = []
    for ins in instructions:
        if ins.keyword != "RUN":
            continue
        # Tokenised first, so `&&` or `;` inside a quoted argument (python -c "...") split nothing.
        lexer = shlex.shlex(ins.value, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        for token in [*lexer, ";"]:
            if token not in {"&&", ";", "||", "|"}:
                command.append(token)
                continue
            if command[:2] == ["apt-get", "install"]:
                packages.extend(w for w in command[2:] if not w.startswith("-"))
            command = []
    return packages


def walk_strings(value: object) -> Iterator[str]:
    """Every string nested anywhere in parsed YAML/JSON."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)


# --- objects the tests look at -------------------------------------------------------------------


def glider_services() -> dict[str, dict[str, Any]]:
    """Compose services running the Glider image (the replicas and the bucket-init job)."""
    return {
        name: svc for name, svc in compose()["services"].items() if svc.get("image", "").startswith("glider:")
    }


def replicas() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in glider_services().items() if "entrypoint" not in svc}


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = k8s_object("Deployment")["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    containers = pod_spec()["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def k8s_env() -> dict[str, str]:
    """What the Deployment puts in the container's environment (envFrom sources + env)."""
    env: dict[str, str] = {}
    for source in container().get("envFrom", []):
        if "configMapRef" in source:
            env.update(k8s_object("ConfigMap")["data"])
        if "secretRef" in source:
            env.update(k8s_object("Secret")["stringData"])
    env.update({item["name"]: item.get("value", "") for item in container().get("env", [])})
    return env
