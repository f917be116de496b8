"""Headless Debian Chromium for page tests, fenced to loopback, and a small DOM reader.

Every run gets a fresh profile and HOME under a temporary directory. Besides the switches that
stop Chromium's own background traffic, DNS resolves nothing but 127.0.0.1 and any non-loopback
request is sent to a dead local proxy port, so nothing can leave the machine even by mistake.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FENCE = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--no-default-browser-check", "--mute-audio",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",  # loopback bypasses proxies; everything else dead-ends
]  # fmt: skip


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        raise AssertionError("Debian chromium is missing: run scripts/system-deps.sh test")
    return CHROMIUM


def run_chromium(url: str, *action: str, budget_ms: int = 20000, timeout: float = 120.0) -> str:
    """Load `url`, let its fetches finish (virtual time waits for the network), perform `action`
    (`--dump-dom`, `--screenshot=PATH`...); return stdout. Fails with Chromium's stderr."""
    with tempfile.TemporaryDirectory(prefix="glider-chromium-") as tmp:
        argv = [
            require_chromium(), *FENCE, f"--user-data-dir={tmp}/profile",
            f"--virtual-time-budget={budget_ms}", *action, url,
        ]  # fmt: skip
        run = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, env={"HOME": tmp}, cwd=tmp
        )
    assert run.returncode == 0, f"chromium exited {run.returncode}:\n{run.stderr[-3000:]}"
    return run.stdout


_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All text inside, whitespace collapsed."""
        return " ".join("".join(self.parts).split())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find_all(self, predicate: Callable[[Node], bool]) -> list[Node]:
        return [node for node in self.walk() if predicate(node)]

    def find(self, predicate: Callable[[Node], bool]) -> Node:
        found = self.find_all(predicate)
        assert len(found) == 1, f"expected one match, found {len(found)}"
        return found[0]

    def by_id(self, element_id: str) -> Node:
        return self.find(lambda n: n.attrs.get("id") == element_id)

    def fields(self) -> dict[str, Node]:
        """Descendants carrying `data-field`, by field name."""
        return {n.attrs["data-field"]: n for n in self.walk() if "data-field" in n.attrs}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node.parts.append(data)


def parse_dom(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
