"""Shared timing helper of the benchmark scripts: median of several repeats."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable


def measure(
    label: str,
    stmt: Callable[[], object] | str,
    number: int,
    repeat: int = 7,
    glob: dict[str, object] | None = None,
) -> float:
    """Time ``number`` runs ``repeat`` times; print the median ns/op and ops/s; return ns/op."""
    timer = timeit.Timer(stmt, globals=glob)
    runs = [t / number * 1e9 for t in timer.repeat(repeat=repeat, number=number)]
    median = statistics.median(runs)
    print(f"{label:<58} {median:10.1f} ns/op {1e9 / median:16,.0f} ops/s  (min {min(runs):.1f})")
    return median
