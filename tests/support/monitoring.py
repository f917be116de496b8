"""PromQL of the Grafana dashboard and the alert rules, and a real Prometheus to evaluate it.

`PrometheusServer` runs the Debian `prometheus` binary directly (never the system service) on
127.0.0.1 with a throwaway TSDB, from a config derived from deploy/prometheus/prometheus.yml with
the `glider` job's targets replaced. Metric names are read from the PromQL syntax tree
(promql-parser), not guessed with regular expressions.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.storage.seaweed import free_ports
from tests.support.deploy import ALERTS, DASHBOARD, PROMETHEUS_CONFIG

# Series Prometheus itself adds to every scrape; alert rules may use them (target down).
SCRAPE_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added"})
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
}


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL expression of a dashboard panel target or an alert rule, as written."""

    origin: str  # "panel 'Upload volume' / A" or "alert GliderUploadErrors"
    expr: str
    panel: str | None = None


def dashboard_panels(dashboard: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every panel that shows data (rows excluded; panels inside collapsed rows included)."""
    if dashboard is None:
        dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel.get("type") == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def dashboard_queries() -> list[Query]:
    return [
        Query(f"panel {panel['title']!r} / {target['refId']}", target["expr"], panel["title"])
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    ]


def alert_queries() -> list[Query]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [
        Query(f"{'alert' if 'alert' in rule else 'record'} {rule.get('alert') or rule.get('record')}",
              rule["expr"])
        for group in groups
        for rule in group["rules"]
    ]  # fmt: skip


def to_promql(expr: str, window: str) -> str:
    """Substitute Grafana's variables the way Grafana would for 'all replicas' over `window`."""
    text = re.sub(r"\$\{?__(rate_interval|interval|range)\}?", window, expr)
    return re.sub(r"\$\{?instance(:\w+)?\}?|\[\[instance\]\]", ".*", text)


def metric_names(promql: str) -> set[str]:
    """Metric names selected anywhere in `promql` (raises ValueError when it does not parse)."""
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(matcher.value)

    promql_parser.walk(promql_parser.parse(promql), visit)
    return names


def sampled_names(exposition: str) -> set[str]:
    """Series names of which `exposition` holds at least one sample (labelled families appear only
    once something has moved them; `_created` companions are left out)."""
    return {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def exported_names(exposition: str) -> set[str]:
    """Series names a Prometheus text exposition offers, including declared-but-empty families.

    A labelled metric nobody has incremented yet has only HELP/TYPE lines; its series names are
    derived from its type, so a query for it counts as referring to an exported metric.
    """
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


def derived_config(targets: list[str], interval: str = "1s") -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with the glider job aimed at `targets`, fast intervals,
    the alert rules by absolute path, and every other scrape job dropped (they name hosts that
    exist only in the compose network)."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config["global"] = {
        **config.get("global", {}),
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "evaluation_interval": interval,
    }
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == "glider"]
    assert len(jobs) == 1, "prometheus.yml must have exactly one `glider` scrape job"
    static = jobs[0]["static_configs"]
    jobs[0]["static_configs"] = [{**static[0], "targets": targets}]
    config["scrape_configs"] = jobs
    config["rule_files"] = [str(ALERTS)]
    config.pop("alerting", None)
    return config


class PrometheusError(RuntimeError):
    pass


@dataclass
class PrometheusServer:
    """A `prometheus` process on 127.0.0.1; a context manager. `query()` uses /api/v1/query."""

    config: dict[str, Any]
    work_dir: Path
    startup_timeout: float = 60.0
    url: str = field(init=False, default="")
    _proc: subprocess.Popen[bytes] | None = field(init=False, default=None, repr=False)
    _client: httpx.Client | None = field(init=False, default=None, repr=False)

    def start(self) -> PrometheusServer:
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusError("prometheus binary missing: scripts/system-deps.sh test")
        config_path = self.work_dir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        [port] = free_ports(1)
        self.url = f"http://127.0.0.1:{port}"
        log = (self.work_dir / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--storage.tsdb.path={self.work_dir / 'tsdb'}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._client = httpx.Client(base_url=self.url, timeout=10.0)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise PrometheusError(f"prometheus exited ({self._proc.returncode}): {self.log_tail()}")
            try:
                if self.client.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise PrometheusError(f"prometheus not ready in {self.startup_timeout}s: {self.log_tail()}")

    @property
    def client(self) -> httpx.Client:
        assert self._client is not None, "not started"
        return self._client

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns `data`, raises PrometheusError with Prometheus's message."""
        response = self.client.get(f"/api/v1/{path}", params=params)
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query at now; the result vector (or a scalar as a one-element list)."""
        data = self.api("query", query=promql)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def log_tail(self, chars: int = 2000) -> str:
        path = self.work_dir / "prometheus.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
