"""Journal benchmarks: appends per second (batched and synced, FULL and NORMAL), replay and
rebuild of 100,000 records.

The records are the scripted stream of the journal tests (orders from zq's OrderFactory,
fills through a real Portfolio). Files are written in a temporary directory: the figures are
those of the disk under it. Prints the median of several repeats.
Run: ``python benchmarks/bench_journal.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.live.stream import scripted_stream
from zq.cache import Cache
from zq.live.journal import Journal, JournalEntry
from zq.live.recovery import rebuild
from zq.model.events import OrderEvent
from zq.portfolio import Portfolio


def median_of(repeat: int, run: Callable[[], float]) -> tuple[float, float]:
    """Return the median and the minimum of ``repeat`` timings (seconds)."""
    times = [run() for _ in range(repeat)]
    return statistics.median(times), min(times)


def bench_appends(
    directory: Path, events: list[JournalEntry], synchronous: str, sync: bool, repeat: int
) -> None:
    counter = iter(range(1_000_000))

    def run() -> float:
        path = directory / f"append-{next(counter)}.journal"
        with Journal(path, synchronous=synchronous) as journal:  # type: ignore[arg-type]
            start = time.perf_counter()
            for event in events:
                journal.append(event, sync=sync)
            journal.flush()
            elapsed = time.perf_counter() - start
        path.unlink()
        return elapsed

    median, best = median_of(repeat, run)
    what = "sync=True (commit each)" if sync else "batched (512 per commit)"
    print(
        f"append order events, {what:<25} synchronous={synchronous:<6} "
        f"{len(events) / median:12,.0f} appends/s  {median / len(events) * 1e6:8.1f} µs each "
        f"(best {len(events) / best:,.0f}/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = args.repeat

    stream = scripted_stream(seed=1, orders=16_900)
    order_events: list[JournalEntry] = [e for e in stream if isinstance(e, OrderEvent)]
    with tempfile.TemporaryDirectory(prefix="zq-bench-journal-") as tmp:
        directory = Path(tmp)
        batched = order_events[:50_000]
        synced = order_events[:2_000]
        for synchronous in ("NORMAL", "FULL"):
            bench_appends(directory, batched, synchronous, sync=False, repeat=repeat)
            bench_appends(directory, synced, synchronous, sync=True, repeat=repeat)

        path = directory / "rebuild.journal"
        records = stream[:100_000]
        with Journal(path) as journal:
            for entry in records:
                journal.append(entry, sync=False)
        size = path.stat().st_size
        print(f"journal of {len(records):,} records: {size / 1e6:.1f} MB")

        def open_file() -> float:
            start = time.perf_counter()
            Journal(path).close()  # the integrity check and end of sequence of a writer
            return time.perf_counter() - start

        def replay() -> float:
            with Journal(path, readonly=True) as journal:
                start = time.perf_counter()
                count = sum(1 for _ in journal.replay())
                elapsed = time.perf_counter() - start
            assert count == len(records)
            return elapsed

        def rebuild_all() -> float:
            cache = Cache()
            portfolio = Portfolio(cache)
            with Journal(path, readonly=True) as journal:
                start = time.perf_counter()
                summary = rebuild(journal, cache, portfolio)
                elapsed = time.perf_counter() - start
            assert summary.records == len(records)
            return elapsed

        for label, run in (
            ("open for writing (quick_check, last sequence)", open_file),
            ("replay (read + CRC + decode)", replay),
            ("rebuild (replay + orders, positions, accounts)", rebuild_all),
        ):
            median, best = median_of(repeat, run)
            print(
                f"{label:<48} {len(records):,} records: {median * 1e3:8.1f} ms median "
                f"({len(records) / median:,.0f} records/s, best {best * 1e3:.1f} ms)"
            )


if __name__ == "__main__":
    main()
