"""Byte progress bars on stderr for transfers through a Glider service (tqdm, loaded only when a
bar is shown)."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, NoReturn

if TYPE_CHECKING:
    from tqdm import tqdm

CHUNK = 1024 * 1024


class Bar:
    """A byte counter on a tqdm bar on stderr, or nothing when no bar is wanted."""

    def __init__(self, at_least: int | None, total: int, label: str) -> None:
        self._bar: tqdm[NoReturn] | None = None
        if at_least is not None and total >= at_least:
            import sys  # noqa: PLC0415

            from tqdm import tqdm  # noqa: PLC0415 - only when a bar is shown

            self._bar = tqdm(
                total=total,
                desc=label,
                unit="B",
                unit_scale=True,
                file=sys.stderr,
                leave=False,
            )

    def update(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def __enter__(self) -> Bar:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.close()


def read_blocks(fh: BinaryIO, bar: Bar) -> Iterator[bytes]:
    while block := fh.read(CHUNK):
        bar.update(len(block))
        yield block
