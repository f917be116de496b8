"""The README stays true to the code.

- Its configuration section is exactly the table generated from `app.settings.Settings`
  (`make docs` rewrites it) and no secret is ever printed by `glider config`; that every variable
  named there is read and has its documented effect is test_readme_settings_effects.py's job.
- Its first fenced block holds the two fresh-machine commands, `make run` and `make test`.
- It documents every HTTP route, every CLI command, every problem type with its status, every
  exit status of the CLI, and docs/OPERATIONS.md every alert rule, so a new one cannot land undocumented.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from app.api.openapi_export import openapi_document
from app.api.problems import PROBLEMS
from app.cli.config import MASK
from app.cli.config_table import END_MARKER, START_MARKER, extract_section, render_table, replace_section
from app.cli.config_vars import config_vars
from app.cli.main import cli
from app.cli.output import EXIT_CODES
from app.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"


def readme() -> str:
    return README.read_text(encoding="utf-8")


# -- the configuration table ---------------------------------------------------------------------


def test_readme_configuration_section_is_the_generated_table() -> None:
    assert extract_section(readme()) == render_table(), "the README's table is out of date: run `make docs`"


def test_every_setting_has_a_description_and_an_env_name() -> None:
    rows = config_vars()
    assert len(rows) >= 50
    undocumented = [f"{r.group}.{r.field}" for r in rows if not r.description]
    assert not undocumented, f"add description= in app/settings/ for {undocumented}"
    names = [name for r in rows for name in r.names]
    assert len(names) == len(set(names)), "two settings read the same variable"
    assert {"DG_API_TOKENS", "DG_CACHE_ENCRYPTION_KEY", "AWS_ENDPOINT_URL", "DG_MAX_RATIO"} <= set(names)


def test_secrets_are_never_printed(clean_env: pytest.MonkeyPatch) -> None:
    secrets = [r for r in config_vars() if r.secret]
    assert {r.names[0] for r in secrets} >= {"DG_API_TOKENS", "DG_CACHE_ENCRYPTION_KEY", "DG_REDIS_URL"}
    sentinel = "s3cr3t-do-not-print"
    for row in secrets:
        value = json.dumps({sentinel: ["read"]}) if row.field == "tokens" else f"redis://:{sentinel}@h/0"
        clean_env.setenv(row.names[0], value)
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    runner = CliRunner()
    for args in (["config", "show"], ["config", "show", "--json"], ["config", "table"]):
        result = runner.invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert sentinel not in result.output, args
    shown = json.loads(runner.invoke(cli, ["config", "show", "--json"]).output)
    for row in secrets:
        assert shown[row.names[0]] == {"value": MASK, "source": row.names[0]}
    assert shown["DG_S3_ENDPOINT_URL"] == {"value": "http://127.0.0.1:9", "source": "AWS_ENDPOINT_URL"}
    assert shown["DG_CACHE_BACKEND"] == {"value": "filesystem", "source": "default"}


def test_config_show_names_the_bad_variable_without_echoing_it(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DG_STATS_HEAD_CONCURRENCY", "not-a-number-123")
    done = subprocess.run(
        [sys.executable, "-m", "app", "config", "show"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ), check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "glider: DG_STATS_HEAD_CONCURRENCY is not a whole number; e.g. DG_STATS_HEAD_CONCURRENCY=64\n"
    )
    assert "not-a-number-123" not in done.stderr + done.stdout


def test_table_write_replaces_only_the_marked_section(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        f"# Title\n\nbefore\n\n{START_MARKER}\nold table\n{END_MARKER}\n\nafter\n", encoding="utf-8"
    )
    runner = CliRunner()
    first = runner.invoke(cli, ["config", "table", "--write", str(doc)], catch_exceptions=False)
    assert first.exit_code == 0
    assert "updated" in first.output
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n\n")
    assert text.endswith(f"{END_MARKER}\n\nafter\n")
    assert extract_section(text) == render_table()
    assert "old table" not in text
    again = runner.invoke(cli, ["config", "table", "--write", str(doc)], catch_exceptions=False)
    assert "unchanged" in again.output
    assert doc.read_text(encoding="utf-8") == text
    assert replace_section(text, render_table()) == text
    doc.write_text("no markers here\n", encoding="utf-8")
    missing = runner.invoke(cli, ["config", "table", "--write", str(doc)])
    assert isinstance(missing.exception, InvalidInput)
    assert doc.read_text(encoding="utf-8") == "no markers here\n"


# -- the rest of the README --------------------------------------------------------------------


def test_first_fenced_block_holds_the_fresh_machine_commands() -> None:
    text = readme()
    assert text.startswith("# Glider\n")
    block = re.search(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


def _routes() -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation in the API's OpenAPI document."""
    paths = openapi_document()["paths"]
    assert isinstance(paths, dict)
    return [(method.upper(), path) for path, operations in paths.items() for method in operations]


def test_every_http_route_is_documented() -> None:
    routes = _routes()
    assert ("POST", "/upload") in routes
    text = readme()
    missing = [f"{method} {path}" for method, path in routes if f"{method} {path}" not in text]
    assert not missing, f"README does not document {missing}"


def _command_lines(group: click.Group, prefix: str) -> list[str]:
    ctx = click.Context(group)
    lines = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            lines += _command_lines(command, f"{prefix} {name}")
        else:
            lines.append(f"{prefix} {name}")
    return lines


def test_every_cli_command_is_documented() -> None:
    commands = _command_lines(cli, "glider")
    assert "glider config table" in commands
    assert "glider serve" in commands
    text = readme()
    missing = [c for c in commands if f"`{c}" not in text]
    assert not missing, f"README's command table lacks {missing}"


def _table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines() if line[:1] == "|"
    ]


def test_every_problem_type_is_documented_with_its_status() -> None:
    rows = _table_rows(readme())
    for cls, kind in PROBLEMS.items():
        assert any(row[0] == str(kind.status) and f"`{kind.slug}`" in row[1] for row in rows), (
            f"README's error table lacks {kind.status} {kind.slug} ({cls.__name__})"
        )


def test_every_exit_status_is_documented() -> None:
    rows = _table_rows(readme())
    for cls, code in EXIT_CODES:
        assert any(row[0] == str(code) and f"`{cls.__name__}`" in row[1] for row in rows), (
            f"README's exit-status table lacks {code} {cls.__name__}"
        )


def test_every_alert_is_explained() -> None:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    alerts = [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]
    assert alerts
    rows = _table_rows(OPERATIONS.read_text(encoding="utf-8"))
    missing = [name for name in alerts if not any(row[0] == f"`{name}`" for row in rows)]
    assert not missing, f"docs/OPERATIONS.md's alert table lacks {missing}"
