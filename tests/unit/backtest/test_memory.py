"""Repeated backtests in one process do not grow memory.

Six runs of one config; after each, the result is dropped and the garbage collected, and the
memory Python has allocated (tracemalloc, so it counts objects, not the allocator's pages)
is read. The first two runs warm caches that are meant to live for the process (imports,
interned strings, compiled regexes, pandas' and numpy's own caches); from the third on, each
run must leave the heap where it found it, within a small allowance for those caches'
last settling. Nothing here depends on timing.
"""

from __future__ import annotations

import gc
import tracemalloc

from tests.unit.backtest.test_node import load_example
from zq.backtest import BacktestNode

RUNS = 6
# Leftovers allowed between run 3 and run 6. One run's result (its events, fills, round
# trips and samples) holds about 470 kB, so keeping even half of each run's result would
# exceed this; allocator freelists and pandas' caches move the figure by a few kB a run.
TOLERANCE_BYTES = 256 * 1024


def test_repeated_runs_of_one_config_do_not_grow_memory() -> None:
    config = load_example(count=3_000)
    node = BacktestNode(config)
    held: list[int] = []
    sizes: list[int] = []
    tracemalloc.start()
    try:
        for _ in range(RUNS):
            result = node.run()
            sizes.append(len(result.events) + len(result.equity))
            del result
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert len(set(sizes)) == 1 and sizes[0] > 100  # the same, non-trivial run each time
    steady = held[2:]
    assert max(steady) - steady[0] < TOLERANCE_BYTES, [f"{b:,}" for b in held]
    assert steady[-1] - steady[0] < TOLERANCE_BYTES, [f"{b:,}" for b in held]
