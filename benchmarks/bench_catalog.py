"""Parquet catalog benchmarks: write and read throughput of trades and deltas, time-range
reads, the merged replay stream over several series, and a replay-like consumer with the
chunks read in its thread or read ahead on another.

Synthetic data shaped like a busy crypto book (random-walk prices, nanosecond stamps a
few microseconds apart). MB/s counts the numpy rows (56 bytes per delta, 48 per trade).
Prints the median of 7 runs. Run: ``python benchmarks/bench_catalog.py [rows]``.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zq.data.arrays import DELTA_DTYPE, QUOTE_DTYPE, TRADE_DTYPE
from zq.data.catalog import DataKind, ParquetDataCatalog

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000_000
REPEAT = 7
START = 1_723_161_600_000_000_000  # 2024-08-09 00:00 UTC


def stamps(rng: np.random.Generator, rows: int) -> np.ndarray:
    return START + np.cumsum(rng.integers(0, 4_000, rows))


def synthetic_deltas(rows: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(rows, DELTA_DTYPE)
    out["ts_init"] = stamps(rng, rows)
    out["ts_event"] = out["ts_init"] - rng.integers(100_000, 2_000_000, rows)
    out["price"] = 6_000_000 + np.cumsum(rng.integers(-1, 2, rows)) + rng.integers(-500, 500, rows)
    out["size"] = rng.integers(0, 50_000, rows)
    out["sequence"] = np.arange(rows) // 3
    out["action"] = rng.choice([1, 2, 3], rows, p=[0.2, 0.6, 0.2])
    out["side"] = rng.integers(1, 3, rows)
    out["flags"] = np.where(rng.random(rows) < 0.3, 128, 0)
    return out


def synthetic_trades(rows: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(rows, TRADE_DTYPE)
    out["ts_init"] = stamps(rng, rows)
    out["ts_event"] = out["ts_init"] - rng.integers(100_000, 2_000_000, rows)
    out["price"] = 6_000_000 + np.cumsum(rng.integers(-1, 2, rows))
    out["size"] = rng.geometric(0.01, rows)
    out["trade_id"] = 5_000_000_000 + np.arange(rows)
    out["aggressor_side"] = rng.integers(1, 3, rows)
    return out


def synthetic_quotes(rows: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(rows, QUOTE_DTYPE)
    out["ts_init"] = stamps(rng, rows)
    out["ts_event"] = out["ts_init"] - rng.integers(100_000, 2_000_000, rows)
    out["bid_price"] = 300_000 + np.cumsum(rng.integers(-1, 2, rows))
    out["ask_price"] = out["bid_price"] + rng.integers(1, 3, rows)
    out["bid_size"] = rng.integers(1, 10_000, rows)
    out["ask_size"] = rng.integers(1, 10_000, rows)
    return out


def median_seconds(run: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(REPEAT):
        if setup is not None:
            setup()
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def report(label: str, rows: int, nbytes: int, seconds: float) -> None:
    print(
        f"{label:<46} {rows / seconds / 1e6:8.2f} M rows/s {nbytes / seconds / 1e6:9.1f} MB/s"
        f"   ({seconds * 1e3:8.1f} ms median)"
    )


def bench_kind(root: Path, kind: DataKind, rows: np.ndarray) -> None:
    folder = root / f"write-{kind.value}"

    def fresh() -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def write() -> None:
        ParquetDataCatalog(folder).write(
            kind, "BTCUSDT.BINANCE", rows, price_precision=2, size_precision=3
        )

    report(
        f"write {kind.value} ({len(rows):,} rows)",
        len(rows),
        rows.nbytes,
        median_seconds(write, fresh),
    )
    on_disk = sum(path.stat().st_size for path in folder.rglob("*.parquet"))
    print(f"{'':<46} {on_disk / 1e6:8.1f} MB on disk ({on_disk / len(rows):.1f} B/row)")

    catalog = ParquetDataCatalog(folder)
    read = lambda: catalog.read(kind, "BTCUSDT.BINANCE")  # noqa: E731
    report(f"read {kind.value} (all)", len(rows), rows.nbytes, median_seconds(read))

    ts = rows["ts_init"]
    low, high = int(ts[len(ts) // 2]), int(ts[len(ts) // 2 + len(ts) // 100])
    part = catalog.read(kind, "BTCUSDT.BINANCE", low, high)
    window = lambda: catalog.read(kind, "BTCUSDT.BINANCE", low, high)  # noqa: E731
    report(f"read {kind.value} (1% time range)", len(part), part.nbytes, median_seconds(window))

    stream = lambda: sum(len(chunk) for _, chunk in catalog.stream(chunk_size=65_536))  # noqa: E731
    report(f"stream {kind.value} (one series)", len(rows), rows.nbytes, median_seconds(stream))


def bench_merge(root: Path, label: str, series: list[tuple[DataKind, str, np.ndarray]]) -> None:
    folder = root / f"merge-{label}"
    catalog = ParquetDataCatalog(folder)
    for kind, key, rows in series:
        for chunk in np.array_split(rows, 4):  # four appended files per series
            catalog.write(kind, key, chunk, price_precision=2, size_precision=3)
    total = sum(len(rows) for *_, rows in series)
    nbytes = sum(rows.nbytes for *_, rows in series)
    runs = 0

    def merged() -> None:
        nonlocal runs
        runs = 0
        for _ in catalog.stream(chunk_size=65_536):
            runs += 1

    seconds = median_seconds(merged)
    report(f"stream merged, {label} ({len(series)} series)", total, nbytes, seconds)
    print(
        f"{'':<46} {runs / seconds / 1e6:8.2f} M runs/s ({runs:,} runs, "
        f"{total / runs:.2f} rows/run)"
    )

    def records() -> None:
        for _ in catalog.stream_records(chunk_size=65_536):
            pass

    report(f"stream_records, {label}", total, nbytes, median_seconds(records))


def busy(seconds: float) -> None:
    """Hold the GIL running Python for ``seconds`` of this thread's CPU, as a replay does."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def bench_read_ahead(root: Path, rows: np.ndarray, ns_per_row: int = 300) -> None:
    """A replay-like consumer of one deltas series (Python work per row on its thread):
    wall time with the chunks read in its thread and read ahead on the catalog's."""
    folder = root / "read-ahead"
    catalog = ParquetDataCatalog(folder)
    catalog.write(DataKind.DELTAS, "BTCUSDT.BINANCE", rows, price_precision=2, size_precision=3)
    work = len(rows) * ns_per_row / 1e9
    for read_ahead in (0, 2):
        walls, cpus = [], []
        for _ in range(3):
            begin, cpu = time.perf_counter(), time.thread_time()
            (stream,) = catalog.series_streams(read_ahead=read_ahead)
            for _, chunk in stream:
                busy(len(chunk) * ns_per_row / 1e9)
            walls.append(time.perf_counter() - begin)
            cpus.append(time.thread_time() - cpu)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(
            f"{f'consume deltas at {ns_per_row} ns/row, read_ahead={read_ahead}':<46} "
            f"{len(rows) / wall / 1e6:8.2f} M rows/s wall; consumer thread CPU "
            f"{(cpu - work) * 1e3:6.1f} ms beyond its {work * 1e3:.0f} ms of work, "
            f"waiting {(wall - cpu) * 1e3:6.1f} ms"
        )


def interleaved() -> list[tuple[DataKind, str, np.ndarray]]:
    """Four equal series on independent random clocks: runs of about one row (worst case)."""
    each = ROWS // 4
    return [
        (DataKind.DELTAS, "BTCUSDT.BINANCE", synthetic_deltas(each, 11)),
        (DataKind.QUOTES, "BTCUSDT.BINANCE", synthetic_quotes(each, 12)),
        (DataKind.TRADES, "BTCUSDT.BINANCE", synthetic_trades(each, 13)),
        (DataKind.TRADES, "ETHUSDT.BINANCE", synthetic_trades(each, 14)),
    ]


def bursty() -> list[tuple[DataKind, str, np.ndarray]]:
    """Book-like: deltas in venue events of 1 to 30 rows sharing a stamp (80% of rows),
    quotes and trades of two instruments between them."""
    rng = np.random.default_rng(21)
    deltas = synthetic_deltas(ROWS * 8 // 10, 15)
    sizes = rng.integers(1, 31, len(deltas))  # rows per venue event, more than needed
    events = np.repeat(np.arange(len(sizes)), sizes)[: len(deltas)]  # event index per row
    deltas["ts_init"] = START + events * 40_000
    rest = ROWS - len(deltas)
    quotes = synthetic_quotes(rest // 2, 16)
    quotes["ts_init"] = np.sort(rng.integers(START, int(deltas["ts_init"][-1]), len(quotes)))
    series = [
        (DataKind.DELTAS, "BTCUSDT.BINANCE", deltas),
        (DataKind.QUOTES, "BTCUSDT.BINANCE", quotes),
    ]
    for seed, key in ((17, "BTCUSDT.BINANCE"), (18, "ETHUSDT.BINANCE")):
        trades = synthetic_trades(rest // 4, seed)
        trades["ts_init"] = np.sort(rng.integers(START, int(deltas["ts_init"][-1]), len(trades)))
        series.append((DataKind.TRADES, key, trades))
    return series


def main() -> None:
    print(f"catalog benchmarks: {ROWS:,} rows per kind, median of {REPEAT} runs")
    with tempfile.TemporaryDirectory(prefix="zq-bench-catalog-") as name:
        root = Path(name)
        bench_kind(root, DataKind.TRADES, synthetic_trades(ROWS))
        bench_kind(root, DataKind.DELTAS, synthetic_deltas(ROWS))
        bench_merge(root, "bursty", bursty())
        bench_merge(root, "interleaved", interleaved())
        bench_read_ahead(root, synthetic_deltas(ROWS))


if __name__ == "__main__":
    main()
