"""Market-maker backtest benchmark: data events replayed per second.

Runs the L2 market maker of ``examples/market_maker.py`` (``configs/market_maker.toml``:
conservative queue, 5 ms latencies, a requote every 100 ms) several times per case and
prints the median (and best) of ``result.data_count / result.elapsed_seconds``: the data
events replayed over the wall time of the replay (building the node and the result
excluded), and the median over the replay thread's CPU time (steadier on a shared machine).

What is timed (``BacktestNode.run``): from opening the sources to the replay's last row.
For a catalog that is reading its files as a user's run would: their footers checked, the
first row group of each series decoded in the replay's thread (in both figures), the
others on the catalog's read-ahead thread while the replay runs (wall time only counts them
when the replay has to wait for them or for the interpreter's lock; a row group that thread
has not started when the replay reaches it is decoded in the replay's thread). The CPU
figure is the replay thread's alone: it leaves out the read-ahead thread's decoding.

Cases:

- the Binance USD-M BTCUSDT capture of the shared data, when it is there (466,576 book
  deltas and trades, about 6 minutes of market), given to the node as objects; replayed by
  the config's ``binance`` source (532,665 events with the bookTicker quotes, which reach
  no subscriber here); and its deltas and trades written to a Parquet catalog and replayed
  by a ``catalog`` source (arrays, no object per row unless a subscriber needs one);
- a generated L2 market of a few million deltas: a block of the example's
  ``generate_l2_arrays`` repeated ``--blocks`` times one after the other (each block opens
  with a CLEAR and its snapshot), written to a Parquet catalog in a temporary folder and
  replayed by a ``catalog`` source, so the figure is stable.

Run: ``python benchmarks/bench_market_maker.py [--repeat 5] [--blocks 6]
[--block-events 500000] [--no-capture]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zq.backtest import BacktestNode, DataConfig
from zq.backtest.config import BacktestConfig, resolve_strategy
from zq.data.arrays import DELTA_DTYPE
from zq.data.catalog import ParquetDataCatalog
from zq.model.data import BookFlags
from zq.model.enums import BookAction

EXAMPLE = ROOT / "examples" / "market_maker.py"
# The example module, loaded the way a config loads a strategy file.
example: Any = sys.modules[resolve_strategy(f"{EXAMPLE}:MarketMaker").__module__]


def tiled_market(blocks: int, block_events: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``blocks`` copies of one generated block, each shifted after the previous."""
    deltas, trades = example.generate_l2_arrays(block_events, seed=11)
    first = int(deltas["ts_init"][0])
    span = max(int(deltas["ts_init"][-1]), int(trades["ts_init"][-1])) - first + 1_000_000
    clear = np.zeros(1, dtype=DELTA_DTYPE)
    clear["action"] = int(BookAction.CLEAR)
    clear["flags"] = int(BookFlags.LAST)
    delta_parts, trade_parts = [], []
    for k in range(blocks):
        shift = k * span
        block = np.concatenate([clear, deltas]) if k else deltas.copy()
        block["ts_event"] += shift
        block["ts_init"] += shift
        if k:
            block["ts_event"][0] = block["ts_init"][0] = first + shift
        block["sequence"] = np.arange(1, len(block) + 1) + k * (len(deltas) + 1)
        delta_parts.append(block)
        moved = trades.copy()
        moved["ts_event"] += shift
        moved["ts_init"] += shift
        moved["trade_id"] += k * len(trades)
        trade_parts.append(moved)
    return np.concatenate(delta_parts), np.concatenate(trade_parts)


def capture_arrays(path: Path, instrument: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the capture's book deltas and trades as arrays (its quotes left out)."""
    from zq.data.loaders.binance import BinanceCaptureLoader

    loader = BinanceCaptureLoader(
        path,
        price_precision=instrument.price_precision,
        size_precision=instrument.size_precision,
    )
    chunks = list(loader.chunks())
    return (
        np.concatenate([chunk.deltas for chunk in chunks]),
        np.concatenate([chunk.trades for chunk in chunks]),
    )


def write_catalog(folder: str, instrument: Any, deltas: np.ndarray, trades: np.ndarray) -> Any:
    """Write the instrument and its data to a catalog at ``folder``; return its source."""
    catalog = ParquetDataCatalog(folder)
    catalog.write_instrument(instrument)
    precisions = {
        "price_precision": instrument.price_precision,
        "size_precision": instrument.size_precision,
    }
    catalog.write_deltas(instrument.id, deltas, **precisions)
    catalog.write_trades(instrument.id, trades, **precisions)
    return DataConfig(kind="catalog", path=folder)


def run_case(label: str, config: BacktestConfig, data: Any, repeat: int) -> None:
    """Run the backtest ``repeat`` times; print the median and best events/s."""
    rates, cpu_rates = [], []
    result = None
    for _ in range(repeat):
        result = BacktestNode(config, data=data).run()
        rates.append(result.events_per_second)
        cpu_rates.append(result.cpu_events_per_second)
    assert result is not None
    median = statistics.median(rates)
    print(
        f"{label:<44} {result.data_count:>10,} events {median:>12,.0f} events/s wall "
        f"(best {max(rates):,.0f}); {statistics.median(cpu_rates):>12,.0f} events/s CPU "
        f"({result.order_count:,} orders, {result.fill_count:,} fills)"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the cases and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (median)")
    parser.add_argument("--blocks", type=int, default=6, help="generated blocks")
    parser.add_argument("--block-events", type=int, default=500_000, help="events per block")
    parser.add_argument("--no-capture", action="store_true", help="skip the real capture")
    args = parser.parse_args(argv)
    config = example.example_config(None)  # no data: each case gives its own
    (instrument,) = BacktestNode(config).instruments()
    print(f"market maker backtest, median of {args.repeat} runs (events replayed / replay time)")
    print(
        "timed: opening the sources (a catalog's first chunks decoded) to the last row; "
        "wall includes waiting for the read-ahead thread, CPU is the replay thread's only"
    )

    path = None if args.no_capture else example.capture_path()
    if path is None:
        print("capture: not found (set ZQ_DATA to the shared data folder), skipped")
    else:
        data = example.capture_data(path, instrument)
        run_case("Binance USD-M capture, objects", config, data, args.repeat)
        del data
        replayed = example.example_config(path)  # the config's binance source
        run_case("Binance USD-M capture, binance source", replayed, None, args.repeat)
        deltas, trades = capture_arrays(path, instrument)
        with tempfile.TemporaryDirectory(prefix="zq-bench-mm-") as folder:
            source = write_catalog(folder, instrument, deltas, trades)
            cataloged = msgspec.structs.replace(config, data=[source])
            run_case("Binance USD-M capture, catalog source", cataloged, None, args.repeat)

    started = time.perf_counter()
    deltas, trades = tiled_market(args.blocks, args.block_events)
    print(
        f"generated {len(deltas):,} deltas and {len(trades):,} trades "
        f"in {time.perf_counter() - started:.1f} s"
    )
    with tempfile.TemporaryDirectory(prefix="zq-bench-mm-") as folder:
        source = write_catalog(folder, instrument, deltas, trades)
        del deltas, trades
        generated = msgspec.structs.replace(config, data=[source])
        run_case("generated L2 market, catalog source", generated, None, args.repeat)


if __name__ == "__main__":
    main()
