"""The README's Quickstart shows exactly what `glider serve --embedded` prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.cli.embedded import banner
from app.components import S3Target

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.smoke
def test_quickstart_banner_is_the_real_banner() -> None:
    text = README.read_text(encoding="utf-8")
    quickstart = text[text.index("## Quickstart") : text.index("## How objects are stored")]
    block = re.search(r"```text\n(.*?)```", quickstart, re.S)
    assert block is not None
    target = S3Target("http://127.0.0.1:41233", "glider-test", "glider-test-secret", embedded=True)
    printed = banner(
        "http://127.0.0.1:8080", "artifacts", "3vQk...Xw", target,
        Path("/home/me/.cache/glider/seaweed"), glider=".venv/bin/glider",
    )  # fmt: skip
    assert block.group(1) == printed.strip("\n") + "\n"
