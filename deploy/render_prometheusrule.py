"""Write deploy/k8s/prometheusrule.yaml from deploy/prometheus/alerts.yml (run after editing alerts).

    .venv/bin/python deploy/render_prometheusrule.py

The Prometheus Operator reads rules from a PrometheusRule object, plain Prometheus from a rules
file; both carry the same groups, and tests/unit/test_deploy_manifests.py fails when they differ.
"""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
RULE = DEPLOY / "k8s" / "prometheusrule.yaml"
HEADER = (
    "# Prometheus Operator copy of deploy/prometheus/alerts.yml (same groups; a test keeps them equal).\n"
    "# Regenerate after editing alerts.yml: python deploy/render_prometheusrule.py\n"
)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL expressions) as `|` blocks, so the copy stays readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _str)


def render(alerts_text: str) -> str:
    groups = yaml.safe_load(alerts_text)["groups"]
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "glider", "labels": {"app.kubernetes.io/name": "glider"}},
        "spec": {"groups": groups},
    }
    return HEADER + yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, width=110)


if __name__ == "__main__":
    RULE.write_text(render(ALERTS.read_text(encoding="utf-8")), encoding="utf-8")
