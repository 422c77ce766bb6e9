"""Throughput of Binance capture replay: parse + book sync, and parse + sync + L2 book apply.

For each capture, every repeat reads the whole gzip file from disk with
``BinanceCaptureLoader`` (decompress, decode JSON, parse decimals in bulk, apply Binance's
sync rules, build the columnar chunks) and, in the second case, applies every chunk's
deltas to a compiled ``L2Book`` with ``apply_batch``. It prints the median over the
repeats in messages per second (capture lines) and deltas per second.

Run: ``python benchmarks/bench_binance.py [--repeats 5]`` (real data from ``ZQ_DATA``,
default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zq.data.loaders.binance import BinanceCaptureLoader
from zq_core.book import L2Book

CAPTURES = [
    ("usdm/btcusdt_20240808.gz", "USD-M BTCUSDT"),
    ("spot/btcusdt_20240808.gz", "spot BTCUSDT"),
    ("cm/btcusd_perp_20240808.gz", "COIN-M BTCUSD_PERP"),
]


def replay(path: Path, apply: bool) -> tuple[float, int, int]:
    """Return (seconds, messages, deltas) of one pass over ``path``."""
    start = time.perf_counter()
    loader = BinanceCaptureLoader(path)
    book: L2Book | None = None
    deltas = 0
    for chunk in loader.chunks():
        deltas += len(chunk.deltas)
        if apply:
            if book is None:
                precisions = (chunk.price_precision or 0, chunk.size_precision or 0)
                book = L2Book(loader.symbol or "", *precisions)
            book.apply_batch(chunk.deltas)
    elapsed = time.perf_counter() - start
    return elapsed, loader.stats.lines, deltas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    data = Path(os.environ.get("ZQ_DATA", ROOT.parent / "shared" / "data")) / "binance"
    print(f"Binance capture replay, median of {args.repeats} runs (whole file from disk each run)")
    print(
        f"{'capture':<22} {'case':<26} {'messages':>9} {'deltas':>8} {'ms':>8} "
        f"{'messages/s':>12} {'deltas/s':>12}"
    )
    for name, label in CAPTURES:
        path = data / name
        for apply, case in ((False, "parse + sync"), (True, "parse + sync + L2 apply")):
            runs = [replay(path, apply) for _ in range(args.repeats)]
            seconds = statistics.median(run[0] for run in runs)
            _, messages, deltas = runs[0]
            print(
                f"{label:<22} {case:<26} {messages:>9,} {deltas:>8,} {seconds * 1e3:>8.1f} "
                f"{messages / seconds:>12,.0f} {deltas / seconds:>12,.0f}"
            )


if __name__ == "__main__":
    main()
