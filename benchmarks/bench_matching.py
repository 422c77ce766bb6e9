"""Matching core benchmark: L2 market updates per second with resting orders.

A synthetic, seeded L2 stream (a mean-reverting mid, changes concentrated near the
touch) goes through ``zq_core.matching.MatchingCore`` with N resting limit orders on both
sides and the queue model on; trades at the touch are mixed in. Prints the median (and
best) of 7 runs of each case.

Run: ``python benchmarks/bench_matching.py``.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zq.data.arrays import DELTA_DTYPE
from zq_core.matching import (
    QUEUE_CONSERVATIVE,
    QUEUE_PROBABILISTIC,
    REPORT_FILLED,
    MatchingCore,
)

UPDATE, DELETE = 2, 3
BID, ASK = 1, 2
BUY, SELL = 1, 2
LIMIT, GTC = 2, 1
REPEAT = 7
EVENTS = 200_000


def stream(count: int, seed: int = 1) -> np.ndarray:
    """L2 deltas around a random-walk mid (10,000 ticks), as a DELTA_DTYPE array."""
    rng = random.Random(seed)
    rows = np.zeros(count, dtype=DELTA_DTYPE)
    columns: dict[str, list[int]] = {"price": [], "size": [], "action": [], "side": []}
    mid = 10_000
    for _ in range(count):
        if rng.random() < 0.01:
            # A mean-reverting mid within 3 ticks of 10,000: resting orders near the touch
            # get crossed now and then, as a market maker's quotes do.
            mid += rng.choice((-1, 1)) if abs(mid - 10_000) < 3 else (10_000 - mid) // 3
        side = rng.choice((BID, ASK))
        distance = min(int(rng.expovariate(0.3)) + 1, 50)
        price = mid - distance if side == BID else mid + distance
        size = rng.randrange(0, 40)
        columns["price"].append(price)
        columns["size"].append(size)
        columns["action"].append(DELETE if size == 0 else UPDATE)
        columns["side"].append(side)
    for name, values in columns.items():
        rows[name] = values
    rows["ts_event"] = rows["ts_init"] = rows["sequence"] = np.arange(count)
    return rows


def build(orders: int, queue_model: int, distance: int = 2) -> MatchingCore:
    core = MatchingCore("X.SIM", 2, 2, 0, 1, queue_model, 7)
    for level in range(1, 51):
        core.apply_delta(UPDATE, BID, 10_000 - level, 20, 0, 0)
        core.apply_delta(UPDATE, ASK, 10_000 + level, 20, 0, 0)
    for i in range(orders):
        side = BUY if i % 2 == 0 else SELL
        offset = distance + i // 2
        price = 10_000 - offset if side == BUY else 10_000 + offset
        core.submit(i + 1, side, LIMIT, GTC, 1_000_000, price=price, ts=0)
    core.drain()
    return core


def run(
    label: str,
    rows: np.ndarray,
    orders: int,
    queue_model: int,
    per_call: bool,
    distance: int = 2,
) -> None:
    rates = []
    fills = 0
    for _ in range(REPEAT):
        core = build(orders, queue_model, distance)
        start = time.perf_counter()
        if per_call:
            apply = core.apply_delta
            for action, side, price, size, ts in zip(
                rows["action"].tolist(),
                rows["side"].tolist(),
                rows["price"].tolist(),
                rows["size"].tolist(),
                rows["ts_event"].tolist(),
                strict=True,
            ):
                apply(action, side, price, size, 0, ts)
        else:
            core.apply_deltas(rows)
        elapsed = time.perf_counter() - start
        fills = sum(1 for report in core.drain() if report[0] == REPORT_FILLED)
        rates.append(len(rows) / elapsed)
    print(
        f"{label:<58} {statistics.median(rates):12,.0f} updates/s  "
        f"(best {max(rates):,.0f}; {fills:,} fills)"
    )


def main() -> None:
    rows = stream(EVENTS)
    print(f"{EVENTS:,} L2 deltas, median of {REPEAT} runs")
    run("L2 per call, no resting orders", rows, 0, QUEUE_CONSERVATIVE, True)
    run("L2 per call, 10 resting limits never crossed", rows, 10, QUEUE_CONSERVATIVE, True, 60)
    run("L2 per call, 10 resting limits, conservative queue", rows, 10, QUEUE_CONSERVATIVE, True)
    run("L2 per call, 10 resting limits, probabilistic queue", rows, 10, QUEUE_PROBABILISTIC, True)
    run(
        "L2 array batch, 10 resting limits, conservative queue", rows, 10, QUEUE_CONSERVATIVE, False
    )
    run("L2 per call, 100 resting limits, conservative queue", rows, 100, QUEUE_CONSERVATIVE, True)


if __name__ == "__main__":
    main()
