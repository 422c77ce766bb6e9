"""Peak memory of a long backtest: the EMA cross example on 10 million generated trades.

    python benchmarks/bench_memory.py [--events N] [--source generated|catalog] [--progress]

Runs examples/ema_cross.py:EmaCross (the config of examples/configs/ema_cross.toml) through
``BacktestNode`` and prints the events replayed, the replay's wall time, events/s, and the
process's resident memory: after the imports (baseline), at its peak (``getrusage``'s
``ru_maxrss``: the high-water mark of the whole process) and after the result is dropped.

Sources:

- ``generated`` (default): the config's seeded random walk, drawn in blocks of 65,536
  trades as the replay reads them (``zq.demo.trade_walk``);
- ``catalog``: the same number of trades written first, in chunks, by a child process to a
  Parquet catalog in a temporary folder, then streamed chunk by chunk; the peak is then the
  engine's own (data in flight is one chunk).

The result itself holds every order and position event, the fills and the samples; its row
counts are printed so the figure can be read against them.
"""

from __future__ import annotations

import argparse
import gc
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np

from zq.backtest import BacktestNode, DataConfig, load_config

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "configs" / "ema_cross.toml"
CHUNK = 1_000_000


def rss_mb() -> float:
    """Return the resident set size of this process now, in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Return the peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def write_catalog(path: Path, events: int, seed: int) -> None:
    """Write ``events`` trades of the demo pair's random walk to a catalog, chunk by chunk."""
    from zq.data.arrays import TRADE_DTYPE
    from zq.data.catalog import ParquetDataCatalog
    from zq.demo import START_NS, demo_instrument

    instrument = demo_instrument()
    catalog = ParquetDataCatalog(path)
    catalog.write_instrument(instrument)
    rng = np.random.default_rng(seed)
    price, ts = 4_200_000, START_NS
    for first in range(0, events, CHUNK):
        count = min(CHUNK, events - first)
        rows = np.zeros(count, dtype=TRADE_DTYPE)
        times = ts + np.cumsum(rng.integers(1_000_000, 80_000_000, size=count))
        prices = price + np.cumsum(rng.integers(-3, 4, size=count))
        rows["ts_event"] = rows["ts_init"] = times
        rows["price"] = prices
        rows["size"] = rng.integers(1, 200_000, size=count)
        rows["trade_id"] = np.arange(first + 1, first + count + 1)
        rows["aggressor_side"] = rng.integers(1, 3, size=count)
        catalog.write_trades(instrument.id, rows, price_precision=2, size_precision=5)
        price, ts = int(prices[-1]), int(times[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--source", choices=("generated", "catalog"), default="generated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--progress", action="store_true", help="draw the progress bar")
    parser.add_argument("--write-catalog", help=argparse.SUPPRESS)  # the child's job
    args = parser.parse_args()
    if args.write_catalog:
        write_catalog(Path(args.write_catalog), args.events, args.seed)
        return

    config = load_config(CONFIG)
    with tempfile.TemporaryDirectory(prefix="zq-bench-memory-") as scratch:
        if args.source == "catalog":
            folder = Path(scratch) / "catalog"
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--events", str(args.events), "--seed",
                 str(args.seed), "--write-catalog", str(folder)],
                check=True,
            )
            print(f"catalog: {args.events:,} trades written in "
                  f"{time.perf_counter() - started:.1f} s by a child process")
            data = [DataConfig(kind="catalog", path=str(folder))]
            config = msgspec.structs.replace(config, instruments=[], data=data)
        else:
            data = [msgspec.structs.replace(d, count=args.events, seed=args.seed)
                    for d in config.data]
            config = msgspec.structs.replace(config, data=data)

        gc.collect()
        baseline = rss_mb()
        result = BacktestNode(config, progress=args.progress).run()
        peak = peak_rss_mb()
        print(f"source: {args.source}")
        print(f"events: {result.data_count:,}")
        print(f"seconds: {result.elapsed_seconds:,.1f} (replay)")
        print(f"events/s: {result.events_per_second:,.0f}")
        print(
            f"result: {result.order_count:,} orders, {result.fill_count:,} fills, "
            f"{len(result.events):,} events, {len(result.round_trips):,} round trips, "
            f"{len(result.equity):,} equity samples"
        )
        print(f"rss baseline MB: {baseline:,.0f}")
        print(f"peak MB: {peak:,.0f} (+{peak - baseline:,.0f} over the baseline)")
        if result.order_count:
            per_order = (peak - baseline) * 1024 * 1024 / result.order_count
            print(f"peak over the baseline per order: {per_order:,.0f} bytes")
        del result
        gc.collect()
        print(f"rss after the result is dropped MB: {rss_mb():,.0f}")


if __name__ == "__main__":
    main()
