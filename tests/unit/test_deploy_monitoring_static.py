"""The Grafana dashboard and the alert rules, checked without servers: every expression parses
and selects only metrics Glider's Metrics object declares, the dashboard has the panels the issue
names, and every alert explains itself. tests/integration/test_monitoring_prometheus.py then runs
them on a real Prometheus.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from prometheus_client import generate_latest

from app.observability.metrics import Metrics
from tests.support.deploy import (
    ALERTS,
    DASHBOARD,
)
from tests.support.monitoring import (
    SCRAPE_SERIES,
    Query,
    alert_queries,
    dashboard_panels,
    dashboard_queries,
    exported_names,
    metric_names,
    to_promql,
)


def glider_metric_names() -> set[str]:
    return exported_names(generate_latest(Metrics().registry).decode())


@pytest.mark.parametrize("query", dashboard_queries() + alert_queries(), ids=lambda q: q.origin)
def test_query_parses_and_uses_only_glider_metrics(query: Query) -> None:
    names = metric_names(to_promql(query.expr, "1m"))
    assert names, f"{query.origin} selects no metric"
    unknown = names - glider_metric_names() - SCRAPE_SERIES
    assert not unknown, f"{query.origin} refers to metrics Glider does not export: {sorted(unknown)}"


def test_metric_name_check_catches_a_typo() -> None:
    assert metric_names('sum(rate(dg_upload_bytes{kind="stored"}[1m]))') - glider_metric_names() == {
        "dg_upload_bytes"
    }
    with pytest.raises(ValueError, match=r".+"):
        metric_names("sum(rate(dg_uploads_total[1m])")


def test_dashboard_shape() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = dashboard_panels(dashboard)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"]
    assert dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"datasource", "instance"} <= set(variables)
    # label_values(<metric>, instance) is Grafana syntax, not PromQL: check its metric by hand.
    found = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variables["instance"]["definition"])
    assert found is not None
    metric, label = found.groups()
    assert metric in glider_metric_names()
    assert label == "instance"
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in (
        "hit",
        "list",
        "computation",
        "upload volume",
        "compression",
        "cache size",
        "job",
        "http latency",
    ):
        assert topic in titles, f"no panel about {topic}"
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))


def test_every_alert_explains_itself() -> None:
    for group in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            annotations = rule["annotations"]
            assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
            assert rule["labels"]["severity"] in {"info", "warning", "critical"}


def test_alerts_cover_the_issue_list() -> None:
    exprs = {q.origin: q.expr for q in alert_queries()}
    text = " ".join(exprs.values())
    for metric in (
        "dg_stats_requests_total",  # miss ratio
        "dg_stats_age_seconds",
        "dg_stats_validation_list_seconds_bucket",
        "dg_job_runs_total",
        "dg_upload_errors_total",
        "dg_reference_cache_evictions_total",
        "dg_coordination_degraded_total",
    ):
        assert metric in text, f"no alert on {metric}"
