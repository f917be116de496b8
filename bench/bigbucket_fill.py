"""The 1,000,000-object bucket of bench/bigbucket.py, written once and kept between runs.

Layout (what Glider and DeltaGlider write): `SPACES` deltaspaces
`releases/team-TT/app-SSSS/`, each with one `reference.bin`, `PER_SPACE` deltas
`build-NNNNN.zip.delta` and one direct file `notes.txt`, every object with the metadata its kind
carries (app.domain.metadata: original size, SHA-256, reference key...). Bodies are a few hundred
random bytes: quick stats reads the listing only, so what counts is the number of keys.

Written with obstore's async API, `CONCURRENCY` PUTs in flight, deltaspaces in batches; after each
batch `progress.json` records how many deltaspaces are complete, so an interrupted fill resumes
there. When all are written, `filled.json` records the totals (object counts and stored bytes,
which are deterministic: every deltaspace draws from its own seeded generator) and the fill time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import obstore
from obstore.store import S3Store

from app.domain.metadata import delta_metadata, direct_metadata, reference_metadata

SPACES = 2000
PER_SPACE = 498  # deltas per deltaspace: with its reference and direct file, 500 objects
CONCURRENCY = 96
BATCH_SPACES = 20  # 10,000 objects between progress records
TOOL = "bench/0"


@dataclass(frozen=True)
class Totals:
    """What the fill wrote; Glider's quick figures must match the counts and stored bytes."""

    objects: int
    delta_objects: int
    direct_objects: int
    references: int
    stored_bytes: int
    fill_seconds: float


def space_name(space: int) -> str:
    return f"releases/team-{space // 100:02d}/app-{space:04d}"


def space_objects(space: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """Every object of one deltaspace: (key, body, metadata), deterministic for `space`."""
    rng = random.Random(1_000_003 * space + 17)
    prefix = space_name(space)
    ref = rng.randbytes(rng.randrange(2048, 4096))
    out = [
        (
            f"{prefix}/reference.bin",
            ref,
            reference_metadata(TOOL, "app.zip", hashlib.sha256(ref).hexdigest()),
        )
    ]
    for n in range(PER_SPACE):
        body = rng.randbytes(rng.randrange(100, 400))
        meta = delta_metadata(
            tool=TOOL, original_name=f"build-{n:05d}.zip", sha256=hashlib.sha256(body).hexdigest(),
            size=rng.randrange(20, 80) << 20, ref_key=f"{prefix}/reference.bin",
            ref_sha256=hashlib.sha256(ref).hexdigest(), delta_size=len(body), codec="xdelta3",
            command="xdelta3 -e -9", zero_diff=False,
        )  # fmt: skip
        out.append((f"{prefix}/build-{n:05d}.zip.delta", body, meta))
    notes = rng.randbytes(rng.randrange(200, 2000))
    out.append(
        (
            f"{prefix}/notes.txt",
            notes,
            direct_metadata(TOOL, "notes.txt", hashlib.sha256(notes).hexdigest(), len(notes)),
        )
    )
    return out


def expected(spaces: int = SPACES) -> Totals:
    stored = 0
    for space in range(spaces):
        stored += sum(len(body) for _, body, _ in space_objects(space))
    return Totals(
        objects=spaces * (PER_SPACE + 2), delta_objects=spaces * PER_SPACE, direct_objects=spaces,
        references=spaces, stored_bytes=stored, fill_seconds=0.0,
    )  # fmt: skip


async def _put_batch(store: S3Store, spaces: range, limit: asyncio.Semaphore) -> int:
    async def put(key: str, body: bytes, meta: dict[str, str]) -> None:
        async with limit:
            attributes = {**meta, "Content-Type": "application/octet-stream"}
            await obstore.put_async(store, key, body, attributes=attributes, use_multipart=False)

    jobs = [put(*obj) for space in spaces for obj in space_objects(space)]
    await asyncio.gather(*jobs)
    return len(jobs)


def fill(store: S3Store, folder: Path, spaces: int = SPACES) -> Totals:
    """Write whatever is missing of the bucket (see the module docstring); the totals."""
    marker = folder / "filled.json"
    if marker.exists():
        return Totals(**json.loads(marker.read_text()))
    progress = folder / "progress.json"
    state = json.loads(progress.read_text()) if progress.exists() else {"spaces": 0, "seconds": 0.0}
    done, spent = int(state["spaces"]), float(state["seconds"])

    async def run() -> None:
        nonlocal done, spent
        limit = asyncio.Semaphore(CONCURRENCY)
        while done < spaces:
            began = time.perf_counter()
            batch = range(done, min(spaces, done + BATCH_SPACES))
            written = await _put_batch(store, batch, limit)
            done, spent = batch.stop, spent + time.perf_counter() - began
            progress.write_text(json.dumps({"spaces": done, "seconds": spent}))
            rate = written / max(1e-9, time.perf_counter() - began)
            print(f"fill: {done}/{spaces} deltaspaces, {spent:.0f} s, {rate:.0f} PUT/s", flush=True)

    asyncio.run(run())
    totals = expected(spaces)
    totals = Totals(**{**asdict(totals), "fill_seconds": round(spent, 1)})
    marker.write_text(json.dumps(asdict(totals)))
    progress.unlink(missing_ok=True)
    return totals
