"""The monitoring shipped in deploy/ works against a real Prometheus and a real Glider.

A uvicorn Glider (real SeaweedFS, scheduler on short intervals) is scraped every second by the
Debian `prometheus` binary, run with a config derived from deploy/prometheus/prometheus.yml and
the alert rules loaded. After real traffic, every PromQL expression of the Grafana dashboard and
of the alert rules is evaluated through /api/v1/query: it must parse, select only metrics of which
Glider's own /metrics shows samples (a declared family that never moved does not count), and every
dashboard panel must return data.
promtool checks the config, the rules and the rules' unit tests.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.storage.s3 import S3ObjectStore
from tests.conftest import S3Endpoint, unique_bucket_name
from tests.support.deploy import ALERTS, PROMETHEUS_CONFIG
from tests.support.monitoring import (
    SCRAPE_SERIES,
    PrometheusError,
    PrometheusServer,
    alert_queries,
    dashboard_panels,
    dashboard_queries,
    derived_config,
    metric_names,
    sampled_names,
    to_promql,
)
from tests.support.service import ServiceProcess, metric, wait_until

pytestmark = pytest.mark.integration

TOKEN = "tok-monitoring-0123456789"  # a throwaway token for a loopback-only test server
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WINDOW = "1m"  # what the test substitutes for Grafana's $__rate_interval
# Dashboard queries that count failures a healthy run does not produce: their series appear only
# after the event (Redis fallbacks). Every other query must return data, not just every panel.
EVENT_ONLY_TARGETS = {"panel 'Redis coordination' / B"}
# Metrics alerts use that only a failure moves (a Redis fallback); each has a promtool case below.
EVENT_ONLY_METRICS = {"dg_coordination_degraded_total"}
CACHE_ENTRY_BYTES = 400 * 1024  # four such references overflow the 1 MiB reference cache


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, check=False)


# --- promtool --------------------------------------------------------------------------------------


def test_promtool_accepts_the_scrape_config() -> None:
    run = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_promtool_accepts_the_alert_rules() -> None:
    run = promtool("check", "rules", str(ALERTS))
    assert run.returncode == 0, run.stdout + run.stderr
    rules = sum(len(g["rules"]) for g in yaml.safe_load(ALERTS.read_text())["groups"])
    assert f"SUCCESS: {rules} rules found" in run.stdout


# promtool rule unit tests, one case per alert: it fires on the series its description names
# (after its `for:`), and stays quiet on a healthy neighbour. The scheduler's task is the `task`
# label. Annotations are stripped from the rules under test, so the cases
# check the firing logic and labels and do not repeat the runbook text.
G = 'job="glider", instance="g1"'
H = 'job="glider", instance="g2"'


def ser(series: str, values: str) -> dict[str, str]:
    return {"series": series, "values": values}


def alert(name: str, at: str, **labels: str) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": [{"exp_labels": labels}] if labels else []}


ALERT_CASES: list[dict[str, Any]] = [
    {  # miss ratio 10/12 on g1 fires after 30 m; g2 mostly hits and stays quiet
        "input_series": [
            ser(f'dg_stats_requests_total{{{G}, mode="quick", result="miss"}}', "0+10x60"),
            ser(f'dg_stats_requests_total{{{G}, mode="quick", result="hit"}}', "0+2x60"),
            ser(f'dg_stats_requests_total{{{H}, mode="quick", result="miss"}}', "0+2x60"),
            ser(f'dg_stats_requests_total{{{H}, mode="quick", result="hit"}}', "0+10x60"),
        ],
        "alert_rule_test": [
            alert("GliderStatsCacheMissRatioHigh", "20m"),
            alert("GliderStatsCacheMissRatioHigh", "45m", job="glider", instance="g1", severity="warning"),
        ],
    },
    {
        "input_series": [
            ser(f'dg_stats_age_seconds{{{G}, mode="sampled"}}', "4000x30"),
            ser(f'dg_stats_age_seconds{{{H}, mode="sampled"}}', "100x30"),
        ],
        "alert_rule_test": [
            alert("GliderStatsTooOld", "10m"),
            alert(
                "GliderStatsTooOld", "20m", job="glider", instance="g1", mode="sampled", severity="warning"
            ),
        ],
    },
    {  # every validation LIST lands between 1 s and 2.5 s: p95 > 1 s
        "input_series": [
            ser(f'dg_stats_validation_list_seconds_bucket{{{G}, mode="quick", le="1.0"}}', "0x40"),
            ser(f'dg_stats_validation_list_seconds_bucket{{{G}, mode="quick", le="2.5"}}', "0+10x40"),
            ser(f'dg_stats_validation_list_seconds_bucket{{{G}, mode="quick", le="+Inf"}}', "0+10x40"),
        ],
        "alert_rule_test": [
            alert("GliderStatsValidationListSlow", "10m"),
            alert(
                "GliderStatsValidationListSlow",
                "30m",
                job="glider",
                instance="g1",
                mode="quick",
                severity="warning",
            ),
        ],
    },
    {
        "input_series": [
            ser(
                f'dg_job_runs_total{{{G}, task="warm_stats", status="failure"}}',
                "0 0 0 1 1 1 1 1 1 1 1 1",
            ),
            ser(f'dg_job_runs_total{{{G}, task="clear_cache", status="success"}}', "0+1x12"),
        ],
        "alert_rule_test": [
            alert("GliderSchedulerJobFailing", "2m"),
            alert(
                "GliderSchedulerJobFailing",
                "10m",
                job="glider",
                instance="g1",
                task="warm_stats",
                severity="warning",
            ),
        ],
    },
    {  # 1 error per 4 uploads: 20% > 5%
        "input_series": [
            ser(f'dg_upload_errors_total{{{G}, error="StorageUnavailable"}}', "0+1x40"),
            ser(f'dg_uploads_total{{{G}, stored_as="delta"}}', "0+4x40"),
            ser(f'dg_uploads_total{{{H}, stored_as="delta"}}', "0+4x40"),
        ],
        "alert_rule_test": [
            alert("GliderUploadErrors", "5m"),
            alert("GliderUploadErrors", "25m", job="glider", instance="g1", severity="critical"),
        ],
    },
    {  # g1 evicts one entry a second, g2 one a minute
        "input_series": [
            ser(f'dg_reference_cache_evictions_total{{{G}, reason="space"}}', "0+60x60"),
            ser(f'dg_reference_cache_evictions_total{{{H}, reason="space"}}', "0+1x60"),
        ],
        "alert_rule_test": [
            alert("GliderReferenceCacheEvicting", "20m"),
            alert("GliderReferenceCacheEvicting", "50m", job="glider", instance="g1", severity="info"),
        ],
    },
    {
        "input_series": [
            ser(f'dg_coordination_degraded_total{{{G}, reason="timeout"}}', "0 0 0 1 1 1"),
        ],
        "alert_rule_test": [
            alert("GliderRedisDegraded", "2m"),
            alert(
                "GliderRedisDegraded", "4m", job="glider", instance="g1", reason="timeout", severity="warning"
            ),
        ],
    },
    {  # g1 had Redis and lost it; g2 never had Redis configured (0 throughout) and stays quiet
        "input_series": [
            ser(f"dg_coordination_up{{{G}}}", "1 1 1 0 0 0 0 0 0 0 0 0"),
            ser(f"dg_coordination_up{{{H}}}", "0x12"),
        ],
        "alert_rule_test": [
            alert("GliderRedisDown", "5m"),
            alert("GliderRedisDown", "10m", job="glider", instance="g1", severity="warning"),
        ],
    },
    {
        "input_series": [
            ser(f"up{{{G}}}", "0x10"),
            ser(f"up{{{H}}}", "1x10"),
        ],
        "alert_rule_test": [
            alert("GliderTargetDown", "3m"),
            alert("GliderTargetDown", "8m", job="glider", instance="g1", severity="critical"),
        ],
    },
    {
        "input_series": [
            ser(f'dg_http_requests_total{{{G}, method="GET", route="/x", status="503"}}', "0+10x30"),
            ser(f'dg_http_requests_total{{{G}, method="GET", route="/x", status="200"}}', "0+10x30"),
            ser(f'dg_http_requests_total{{{H}, method="GET", route="/x", status="200"}}', "0+10x30"),
        ],
        "alert_rule_test": [
            alert("GliderHttpServerErrors", "5m"),
            alert("GliderHttpServerErrors", "25m", job="glider", instance="g1", severity="critical"),
        ],
    },
]


def test_every_alert_has_a_firing_case() -> None:
    tested = {
        case["alertname"] for spec in ALERT_CASES for case in spec["alert_rule_test"] if case["exp_alerts"]
    }
    assert tested == {q.origin.removeprefix("alert ") for q in alert_queries()}


def test_alert_rules_fire_as_documented(tmp_path: Path) -> None:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    tests = [{"interval": "1m", **case} for case in ALERT_CASES]
    spec = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(spec))
    run = promtool("test", "rules", str(tmp_path / "tests.yml"))
    assert run.returncode == 0, run.stdout + run.stderr


def test_derived_test_config_passes_promtool(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(derived_config(["127.0.0.1:9"])))
    run = promtool("check", "config", str(path))
    assert run.returncode == 0, run.stdout + run.stderr


# --- a running Glider scraped by a running Prometheus ------------------------------------------


@pytest.fixture(scope="module")
def warm_bucket(s3_store: S3ObjectStore) -> str:
    name = unique_bucket_name("mon")
    s3_store.create_bucket(name)
    return name


@pytest.fixture(scope="module")
def glider(
    seaweed: S3Endpoint, warm_bucket: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    work = tmp_path_factory.mktemp("glider-mon")
    env = seaweed.env() | {
        "DG_API_TOKENS": f'{{"{TOKEN}": ["upload", "read", "admin"]}}',
        "DG_EMBEDDED_S3": "false",
        "DG_WORK_DIR": str(work / "work"),
        "DG_CACHE_DIR": str(work / "cache"),
        "DG_CACHE_DISK_SIZE_MB": "1",  # small, so the traffic below makes it evict
        # Both scheduler jobs fire within seconds, so the job panels have data.
        "DG_CLEAR_CACHE_INTERVAL": "2",
        "DG_WARM_BUCKETS": warm_bucket,
        "DG_WARM_MODES": "quick,sampled",
        "DG_WARM_INTERVAL": "2",
    }
    service = ServiceProcess(env).start()
    try:
        yield service
    finally:
        service.close()


@pytest.fixture(scope="module")
def prometheus(
    glider: ServiceProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    config = derived_config([f"127.0.0.1:{glider.port}"], interval="1s")
    with PrometheusServer(config, tmp_path_factory.mktemp("prometheus")) as server:
        yield server


def versions(seed: int, count: int, size: int = 256 * 1024) -> list[bytes]:
    """`count` versions of an archive-like file, each a small edit of the previous one."""
    rng = random.Random(seed)
    current = bytearray(rng.randbytes(size))
    out = []
    for _ in range(count):
        offset = rng.randrange(0, size - 4096)
        current[offset : offset + 4096] = rng.randbytes(4096)
        out.append(bytes(current))
    return out


def drive_traffic(client: httpx.Client, bucket: str) -> None:
    """Every kind of request the dashboard shows: uploads of each storage kind, downloads, a
    listing, stats in every mode with hit / miss / refresh / bypass, reference cache evictions,
    clear-cache, client errors."""
    for index, body in enumerate(versions(7, 3)):
        r = client.post(
            "/upload", params={"bucket": bucket, "key": f"app/releases/app-1.{index}.zip"}, content=body
        )
        assert r.status_code == 201, r.text
        assert r.json()["stored_as"] == ("reference" if index == 0 else "delta"), r.json()
    r = client.post(
        "/upload", params={"bucket": bucket, "key": "notes/readme.txt"}, content=b"plain text " * 100
    )
    assert r.status_code == 201, r.text
    for index in range(4):
        body = random.Random(index).randbytes(CACHE_ENTRY_BYTES)
        r = client.post("/upload", params={"bucket": bucket, "key": f"evict/{index}/app.zip"}, content=body)
        assert r.status_code == 201, r.text
    bad = {"X-Content-SHA256": hashlib.sha256(b"something else").hexdigest()}
    r = client.post(
        "/upload", params={"bucket": bucket, "key": "app/bad/app.zip"}, content=b"x" * 1000, headers=bad
    )
    assert r.status_code == 400, r.text
    for index in range(3):
        r = client.get(f"/buckets/{bucket}/objects/app/releases/app-1.{index}.zip")
        assert r.status_code == 200, r.text
    assert client.get(f"/buckets/{bucket}/objects", params={"prefix": "app/"}).status_code == 200
    for mode in ("quick", "sampled", "detailed"):
        for params in ({}, {}, {"refresh": "true"}, {"use_cache": "false"}):
            r = client.get(f"/buckets/{bucket}/stats", params={"mode": mode, **params})
            assert r.status_code == 200, r.text
    assert client.post("/admin/clear-cache").status_code == 200
    assert client.get(f"/buckets/{bucket}/objects/missing.zip").status_code == 404
    assert httpx.get(str(client.base_url.join(f"/buckets/{bucket}/stats")), timeout=10).status_code == 401


def scrape_count(prometheus: PrometheusServer) -> int:
    result = prometheus.query('count_over_time(up{job="glider"}[10m])')
    return int(float(result[0]["value"][1])) if result else 0


@pytest.fixture(scope="module")
def exported(glider: ServiceProcess, prometheus: PrometheusServer, s3_store: S3ObjectStore) -> set[str]:
    """Drive traffic while Prometheus scrapes, wait for the jobs and three more scrapes; return
    the names of the series Glider's /metrics holds samples of."""
    bucket = unique_bucket_name("traffic")
    s3_store.create_bucket(bucket)
    with httpx.Client(base_url=glider.url, headers=AUTH, timeout=60) as client:
        drive_traffic(client, bucket)
        wait_until(
            lambda: all(
                metric(client.get("/metrics").text, "dg_job_runs_total", {"task": task, "status": "success"})
                > 0
                for task in ("clear_cache", "warm_stats")
            ),
            timeout=30,
            what="both scheduler jobs to succeed",
        )
        exposition = client.get("/metrics").text
    # rate()/increase() need two samples inside the window that include the traffic.
    before = scrape_count(prometheus)
    wait_until(lambda: scrape_count(prometheus) >= before + 3, timeout=30, what="three more scrapes")
    return sampled_names(exposition)


def test_dashboard_and_alerts_evaluate_on_real_prometheus(
    prometheus: PrometheusServer, exported: set[str]
) -> None:
    (target,) = prometheus.api("targets")["activeTargets"]
    assert target["health"] == "up", target

    failures: list[str] = []
    empty_targets: dict[str, list[str]] = {}
    for query in dashboard_queries() + alert_queries():
        promql = to_promql(query.expr, WINDOW)
        unknown = metric_names(promql) - exported - SCRAPE_SERIES - EVENT_ONLY_METRICS
        if unknown:
            failures.append(f"{query.origin}: no samples of {sorted(unknown)} after real traffic")
        try:
            result = prometheus.query(promql)
        except PrometheusError as err:
            failures.append(f"{query.origin}: Prometheus rejected it: {err}")
            continue
        if query.panel is not None and not result:
            empty_targets.setdefault(query.panel, []).append(query.origin)
    assert not failures, "\n".join(failures)

    panels = {p["title"]: len(p["targets"]) for p in dashboard_panels()}
    blank = [title for title, count in panels.items() if len(empty_targets.get(title, [])) == count]
    assert not blank, f"panels with no data after real traffic: {blank}\nempty targets: {empty_targets}"
    unexpected = {origin for origins in empty_targets.values() for origin in origins} - EVENT_ONLY_TARGETS
    assert not unexpected, f"dashboard queries that returned nothing: {sorted(unexpected)}"

    # Prometheus evaluated every alert rule without an error (type errors show up only here).
    def rules() -> list[dict[str, Any]]:
        return [rule for group in prometheus.api("rules")["groups"] for rule in group["rules"]]

    never = "0001-01-01T00:00:00Z"  # Prometheus's lastEvaluation before the first run
    wait_until(lambda: all(r["lastEvaluation"] != never for r in rules()), timeout=10, what="rule evaluation")
    evaluated = rules()
    assert len(evaluated) == len(alert_queries())
    broken = {rule["name"]: rule.get("lastError") for rule in evaluated if rule["health"] != "ok"}
    assert not broken, broken


def test_traffic_metrics_reach_prometheus(prometheus: PrometheusServer, exported: set[str]) -> None:
    """The series the dashboard is about carry the label values the panels group by."""
    assert "dg_uploads_total" in exported
    stored_as = {s["metric"]["stored_as"] for s in prometheus.query("dg_uploads_total")}
    results = {s["metric"]["result"] for s in prometheus.query("dg_stats_requests_total")}
    jobs = {s["metric"].get("task") for s in prometheus.query("dg_job_runs_total")}
    assert {"reference", "delta", "direct"} <= stored_as
    assert {"hit", "miss", "refresh", "bypass"} <= results
    assert {"clear_cache", "warm_stats"} <= jobs, "the scheduler task name arrives as task"
    reasons = {s["metric"]["reason"] for s in prometheus.query("dg_reference_cache_evictions_total")}
    assert "space" in reasons, "the 1 MiB reference cache evicted under the traffic"
    kinds = {s["metric"]["kind"] for s in prometheus.query("dg_upload_bytes_total")}
    assert kinds == {"original", "stored"}
