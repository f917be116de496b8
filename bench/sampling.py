"""Peak RSS of a running process (and, apart, of its children), sampled every 20 ms with psutil.

One sampler for every bench that reports memory (bench.rss, bench.bigbucket, bench.artifacts):
a sampled peak can miss a spike shorter than the period, so each bench says "sampled every
20 ms" beside its figures. A process's own `ru_maxrss` (bench.bigbucket's CLI runs) needs no
sampler; a long-lived service process does, since its high-water mark covers its whole life.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil

PERIOD = 0.02  # seconds between samples


@dataclass
class Peak:
    """Highest RSS seen, in MiB: `glider_mib` of the watched process, `child_mib` of any one of
    its descendants (the xdelta3 codec); `seconds`: how long the block ran."""

    glider_mib: float = 0.0
    child_mib: float = 0.0
    seconds: float = 0.0


@contextlib.contextmanager
def sampling(proc: psutil.Process, *, children: bool = True) -> Iterator[Peak]:
    """Sample the RSS of `proc` and (separately, unless `children` is off) of its descendants from
    the block's start to its end, both included. A process that is gone or not readable is
    skipped for that sample. `children=False` spares the /proc scan that listing them costs,
    for a measurement whose CPU time matters on a shared machine."""
    peak = Peak()
    start = time.perf_counter()
    stop = threading.Event()

    def sample() -> None:
        try:
            peak.glider_mib = max(peak.glider_mib, proc.memory_info().rss / 2**20)
            for child in proc.children(recursive=True) if children else ():
                peak.child_mib = max(peak.child_mib, child.memory_info().rss / 2**20)
        except psutil.Error:
            pass

    def loop() -> None:
        while not stop.wait(PERIOD):
            sample()

    sample()
    sampler = threading.Thread(target=loop, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()
        sample()
        peak.seconds = time.perf_counter() - start


def watch_peak(argv: list[str], env: dict[str, str]) -> Peak:
    """Run `argv` to its end, sampled; raises RuntimeError (with its stderr's tail) if it fails."""
    proc = psutil.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with sampling(proc) as peak:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[1:3]} failed: {err.decode()[-500:]}")
    return peak
