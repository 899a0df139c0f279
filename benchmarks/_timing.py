"""Timing helpers: best-of-N wall time and ratios measured in one run.

Timing on shared 2-core machines is noisy, so benchmarks report ratios of two
things timed in the same run (ours vs an anchor, ours vs the bare
forward+backward floor), each the best of several repeats after a warm-up.
"""

from __future__ import annotations

import time


def best_time(fn, repeat: int = 5, warmup: int = 1) -> float:
    """Best wall time of `fn()` in seconds over `repeat` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def row(name: str, value: float, unit: str = "", target: str = "", note: str = "") -> dict:
    """One line of a benchmark's report."""
    return {"name": name, "value": value, "unit": unit, "target": target, "note": note}
