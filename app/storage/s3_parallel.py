"""A whole-bucket listing read by several LIST streams at once, delivered in one fixed order.

A bucket that fits in one page is one LIST. Beyond that, a flat ListObjectsV2 is one request
after another (1,000 keys each); here the bucket is first cut into subtrees with delimiter LISTs
(the top level, and one or two levels further while there are fewer than 4 subtrees per stream),
then up to `concurrency` subtrees are listed at the same time.
Pages come out subtree by subtree in byte order of their names, objects of a subtree in the
server's order: the same sequence on every run (what the stats fingerprint needs), and on a
byte-ordered server exactly the flat listing's. Memory is bounded: each running stream buffers at
most `QUEUE_PAGES` pages; only the direct children of the directories cut into (the top two or
three levels, not the deltaspaces' contents in usual layouts) are held whole, about 300 bytes each.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import obstore
from obstore.store import S3Store

from app.storage.base import ObjectInfo
from app.storage.s3_listing import PAGE, to_info

QUEUE_PAGES = 4
MAX_DEPTH = 3
_END = object()


@dataclass(frozen=True, slots=True)
class _Part:
    """Either objects already known (a directory's direct children) or a subtree to list."""

    name: str
    objects: tuple[ObjectInfo, ...] = ()
    subtree: str | None = None


def _cut(store: S3Store, directory: str | None) -> list[_Part]:
    """One delimiter LIST: the directory's objects and subtrees, in byte order of their names."""
    listed = obstore.list_with_delimiter(store, directory)
    parts = [_Part(m["path"], objects=(to_info(m),)) for m in listed["objects"]]
    parts += [_Part(p + "/", subtree=p) for p in listed["common_prefixes"]]
    return sorted(parts, key=lambda part: part.name.encode())


def plan(
    store: S3Store, concurrency: int, pool: ThreadPoolExecutor, on_request: Callable[[], None]
) -> list[_Part]:
    """Cut the bucket until there are 4 subtrees per stream (so streams stay busy while some
    subtrees are small), or MAX_DEPTH levels deep."""
    on_request()
    parts = _cut(store, None)
    for _ in range(MAX_DEPTH - 1):
        subtrees = [p for p in parts if p.subtree is not None]
        if not subtrees or len(subtrees) >= 4 * concurrency:
            break
        for _ in subtrees:
            on_request()
        expanded = dict(zip(subtrees, pool.map(lambda p: _cut(store, p.subtree), subtrees), strict=True))
        parts = [q for p in parts for q in expanded.get(p, [p])]
    return parts


def _stream(store: S3Store, subtree: str, out: queue.Queue[object], stop: threading.Event) -> None:
    """List `subtree` into `out` page by page; the failure itself is queued if there is one."""
    try:
        for chunk in obstore.list(store, subtree, chunk_size=PAGE):
            page = [to_info(meta) for meta in chunk]
            while not stop.is_set():
                try:
                    out.put(page, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        out.put(_END)
    except Exception as err:  # noqa: BLE001 - handed to the reader, which translates it
        out.put(err)


def ordered_pages(
    store: S3Store,
    concurrency: int,
    translate: Callable[[Exception], Exception],
    on_request: Callable[[], None] = lambda: None,
) -> Iterator[tuple[ObjectInfo, ...]]:
    """Every object of the bucket, in pages of at most PAGE objects (see the module docstring).
    `on_request` is called once per delimiter LIST and per subtree stream (request counting)."""
    workers = max(1, concurrency)
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glider-list")
    try:
        try:
            parts = plan(store, workers, pool, on_request)
        except Exception as err:
            raise translate(err) from err
        queues: dict[int, queue.Queue[object]] = {}
        subtrees = [i for i, p in enumerate(parts) if p.subtree is not None]
        position = {index: n for n, index in enumerate(subtrees)}
        started = 0

        def start_more(upto: int) -> None:
            nonlocal started
            while started < len(subtrees) and started < upto:
                index = subtrees[started]
                queues[index] = queue.Queue(maxsize=QUEUE_PAGES)
                on_request()
                pool.submit(_stream, store, str(parts[index].subtree), queues[index], stop)
                started += 1

        pending: list[ObjectInfo] = []
        for index, part in enumerate(parts):
            if part.subtree is None:
                pending.extend(part.objects)
                if len(pending) >= PAGE:
                    yield tuple(pending)
                    pending = []
                continue
            if pending:
                yield tuple(pending)
                pending = []
            start_more(position[index] + workers)
            while (item := queues[index].get()) is not _END:
                if isinstance(item, Exception):
                    raise translate(item) from item
                yield tuple(item)  # type: ignore[arg-type]
            del queues[index]
        if pending:
            yield tuple(pending)
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def bucket_pages(
    store: S3Store,
    concurrency: int,
    translate: Callable[[Exception], Exception],
    on_request: Callable[[], None] = lambda: None,
) -> Iterator[tuple[ObjectInfo, ...]]:
    """The whole bucket: one LIST when it fits in a page (small buckets pay nothing more), else
    `ordered_pages` (the probe page is dropped: the order is the parallel one, always)."""
    on_request()
    try:
        probe = next(iter(obstore.list(store, chunk_size=PAGE)), [])
    except Exception as err:
        raise translate(err) from err
    if len(probe) < PAGE:
        yield tuple(to_info(meta) for meta in probe)
        return
    yield from ordered_pages(store, concurrency, translate, on_request)
