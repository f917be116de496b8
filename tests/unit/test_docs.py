"""The documents in docs/ exist where the code and the README cite them, and their links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.domain.metadata import delta_metadata, direct_metadata, reference_metadata

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/WIRE_FORMAT.md", "docs/ARCHITECTURE.md", "docs/OPERATIONS.md")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _has_anchor(file: Path, anchor: str) -> bool:
    return not anchor or file.suffix != ".md" or anchor in _anchors(file.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", DOCS)
def test_relative_links_resolve(name: str) -> None:
    source = ROOT / name
    broken = []
    for target in _LINK.findall(source.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (source.parent / path).resolve() if path else source
        if not file.exists() or not _has_anchor(file, anchor):
            broken.append(target)
    assert not broken, f"{name} links to {broken}"


def test_every_cited_document_exists() -> None:
    """Code and deploy files cite the design documents by their path in the repository."""
    cited = set()
    for path in [*ROOT.glob("app/**/*.py"), *ROOT.glob("deploy/**/*.yml")]:
        found = re.findall(
            r"[\w./]*(?:WIRE_FORMAT|ARCHITECTURE|OPERATIONS)\.md", path.read_text(encoding="utf-8")
        )
        cited |= {(path.relative_to(ROOT).as_posix(), name) for name in found}
    assert ("app/stats/model.py", "docs/WIRE_FORMAT.md") in cited
    missing = sorted((where, name) for where, name in cited if not (ROOT / name).exists())
    assert not missing, f"cited but absent from the repository: {missing}"


def test_the_wire_format_names_every_metadata_key_the_engine_writes() -> None:
    written = {
        *reference_metadata("t", "a.zip", "0" * 64),
        *delta_metadata(
            tool="t", original_name="a.zip", sha256="0" * 64, size=1, ref_key="reference.bin",
            ref_sha256="0" * 64, delta_size=1, codec="zstd-patch", command="c", zero_diff=True,
        ),
        *direct_metadata("t", "a.zip", "0" * 64, 1),
    }  # fmt: skip
    text = (ROOT / "docs" / "WIRE_FORMAT.md").read_text(encoding="utf-8")
    missing = sorted(key for key in written if f"`{key}`" not in text)
    assert not missing, f"docs/WIRE_FORMAT.md does not describe {missing}"
