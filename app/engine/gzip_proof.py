"""Proving the likeliest gzip recipe while the upload decompresses, not after it.

The proof (recompress everything, compare every byte with the original, compare the SHA-256)
is the main cost of a gzip-aware upload: a full deflate of the content, several times slower
than inflating it. `StreamProof` runs it in its own thread, fed the decompressed pieces as
`expand` produces them, so the inflate, the deflate and later the writer's own work (xdelta3
encode, the reference PUT) overlap; zlib and hashlib release the GIL on large buffers. The
writer must call `PendingRecipe.result()` before it acknowledges anything: only a proven
recipe is ever returned. When the likeliest candidate fails, the ordinary candidate search
(`gzip_recipe.find_recipe`) runs over the others from the scratch copy.

Memory stays bounded: at most `_DEPTH` pieces of `gzip_stream.CHUNK` bytes wait in the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Generator
from pathlib import Path

from app.engine.container_stream import stream_matches
from app.engine.gzip_stream import GzipHeader, Recipe, Totals, gzip_pieces

log = logging.getLogger(__name__)

_DEPTH = 4  # pieces in flight between the inflating and the proving thread
_POLL = 0.1  # seconds between checks that the other side is still there


class StreamProof:
    """One candidate recipe checked against `original` as its decompressed pieces arrive.

    `feed` each piece in order, then `finish`; `wait` says whether header + deflate(pieces) +
    trailer equals `original` byte for byte and hashes to `sha256` (when given). `failed` turns
    true as soon as a byte differs (or the proof is aborted or its file unreadable), and
    `wait_failed` blocks until then; `abort` stops the thread early. Thread-safe.
    """

    def __init__(self, original: Path, header: GzipHeader, recipe: Recipe, sha256: str | None) -> None:
        self.recipe = recipe
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_DEPTH)
        self._stop = threading.Event()
        self._failed = threading.Event()  # set once, by the proving thread, when it ends unproven
        self._proven = False
        self._thread = threading.Thread(
            target=self._run, args=(original, header, sha256), name="gzip-proof", daemon=True
        )
        self._thread.start()

    @property
    def failed(self) -> bool:
        return self._failed.is_set()

    def wait_failed(self, timeout: float) -> bool:
        """Block up to `timeout` seconds for the proof to fail; true if it has."""
        return self._failed.wait(timeout)

    def feed(self, piece: bytes) -> None:
        self._put(piece)

    def finish(self) -> None:
        self._put(None)

    def abort(self) -> None:
        self._stop.set()
        self._thread.join()

    def wait(self) -> bool:
        self._thread.join()
        return self._proven

    def _put(self, item: bytes | None) -> None:
        while not self._stop.is_set():  # a stopped prover takes nothing more: never block on it
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def _get(self) -> bytes | None:
        while not self._stop.is_set():
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
        raise _Stopped

    def _run(self, original: Path, header: GzipHeader, sha256: str | None) -> None:
        try:
            self._proven = self._prove(original, header, sha256)
        except _Stopped:
            pass
        except OSError as err:  # the upload's own file became unreadable: no proof, no recipe
            log.warning("gzip recipe proof of %s stopped: %s", original, err)
        finally:
            if not self._proven:
                self._failed.set()
            self._stop.set()

    def _prove(self, original: Path, header: GzipHeader, sha256: str | None) -> bool:
        totals = Totals()
        return stream_matches(gzip_pieces(header.raw, self._deflated(totals), totals), original, sha256)

    def _deflated(self, totals: Totals) -> Generator[bytes, None, None]:
        """The recipe's deflate of the pieces fed in, as they arrive (counted in `totals`)."""
        compressor = self.recipe.compressor()
        while (piece := self._get()) is not None:
            yield compressor.compress(totals.count(piece))
        yield compressor.flush()


class _Stopped(Exception):
    """The prover was aborted (the upload failed or is not a clean gzip stream)."""


class PendingRecipe:
    """The recipe of an upload, proven in the background; `result()` blocks until it is known.

    `likely` is true while the streamed candidate still matches: the writer then starts its
    own work alongside the proof. `search(skip)` runs the remaining candidates.
    """

    def __init__(self, proof: StreamProof | None, search: Callable[[Recipe | None], Recipe | None]) -> None:
        self._proof = proof
        self._search = search
        self._lock = threading.Lock()
        self._done = False
        self._recipe: Recipe | None = None

    @property
    def likely(self) -> bool:
        return self._proof is not None and not self._proof.failed

    def result(self) -> Recipe | None:
        with self._lock:
            if not self._done:
                self._recipe = self._resolve()
                self._done = True
            return self._recipe

    def _resolve(self) -> Recipe | None:
        if self._proof is None:
            return self._search(None)
        if self._proof.wait():
            return self._proof.recipe
        return self._search(self._proof.recipe)

    def close(self) -> None:
        if self._proof is not None:
            self._proof.abort()
