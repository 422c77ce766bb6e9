"""Order book benchmarks: L2 apply per call and in batch, L3 replay, queries.

Prints the median (and best) of 7 runs of each. The streams are synthetic and seeded: a
random walk of the mid with changes concentrated near the touch, hundreds of levels per
side and, for L3, thousands of live orders under adds, cancels, modifies and fills. If the
real CME ES market-by-order file is present (``ZQ_DATA``, default ``../shared/data``), its
L3 replay is timed too, decoded here with ``databento-dbn`` directly; so is the L2 replay
of the Binance USD-M BTCUSDT depth capture (a deep book: ~3,400 levels a side, half the
deltas more than 300 levels from the touch), with its CPU time as well as the wall time.

Run: ``python benchmarks/bench_book.py``.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _timing import measure

from zq.data.arrays import DELTA_DTYPE
from zq_core.book import L2Book, L3Book

ADD, UPDATE, DELETE, CLEAR, FILL = 1, 2, 3, 4, 5
BID, ASK = 1, 2
REPEAT = 7
ROOT = Path(__file__).resolve().parents[1]
ES_FILE = "databento/esh4-glbx-mdp3-20231225.mbo.dbn.zst"
BINANCE_FILE = "binance/usdm/btcusdt_20240808.gz"

Row = tuple[int, int, int, int, int]  # action, side, price, size, order_id


def throughput(label: str, count: int, run: Callable[[], float], unit: str = "deltas") -> float:
    """Run ``run`` (returning the seconds it measured) REPEAT times; print count/s figures."""
    seconds = [run() for _ in range(REPEAT)]
    median = statistics.median(seconds)
    print(
        f"{label:<58} {count / median / 1e6:7.2f} M {unit}/s median"
        f"   ({count / min(seconds) / 1e6:.2f} best, {count:,} {unit}, {REPEAT} runs)"
    )
    return count / median


def to_array(rows: list[Row], sequences: bool = True) -> np.ndarray:
    array = np.zeros(len(rows), DELTA_DTYPE)
    columns = np.array(rows, dtype=np.int64)
    for i, name in enumerate(("action", "side", "price", "size", "order_id")):
        array[name] = columns[:, i]
    if sequences:
        array["sequence"] = np.arange(1, len(rows) + 1)
        array["ts_event"] = 1_700_000_000_000_000_000 + np.arange(len(rows)) * 1_000
    return array


# --- Synthetic streams --------------------------------------------------------------------


def l2_stream(count: int, seed: int = 1) -> list[Row]:
    """Level updates: 500 levels a side, then a random walk concentrated near the touch."""
    rng = np.random.default_rng(seed)
    mid = 100_000
    rows: list[Row] = [
        (ADD, side, mid - 1 - k if side == BID else mid + 1 + k, 10, 0)
        for side in (BID, ASK)
        for k in range(500)
    ]
    steps = rng.random(count) < 0.02
    directions = rng.choice([-1, 1], count)
    sides = rng.integers(1, 3, count)
    offsets = np.minimum(rng.geometric(0.08, count) - 1, 600)  # levels from the touch
    actions = rng.choice([UPDATE, DELETE, ADD, FILL], count, p=[0.6, 0.25, 0.1, 0.05])
    sizes = rng.integers(1, 100, count)
    for i in range(count):
        if steps[i]:  # the mid moves: the level it moves onto goes
            mid += int(directions[i])
            rows.append((DELETE, ASK if directions[i] > 0 else BID, mid, 0, 0))
        side, action = int(sides[i]), int(actions[i])
        offset = 0 if action == FILL else int(offsets[i])
        price = mid - 1 - offset if side == BID else mid + 1 + offset
        rows.append((action, side, price, 1 if action == FILL else int(sizes[i]), 0))
    return rows


class _Orders:
    """The live orders of the L3 generator: by id, and per level in time priority."""

    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}  # id -> [side, price, size]
        self.levels: dict[tuple[int, int], list[int]] = {}
        self.ids: list[int] = []
        self.position: dict[int, int] = {}

    def add(self, order_id: int, side: int, price: int, size: int) -> None:
        self.orders[order_id] = [side, price, size]
        self.levels.setdefault((side, price), []).append(order_id)
        self.position[order_id] = len(self.ids)
        self.ids.append(order_id)

    def remove(self, order_id: int) -> None:
        side, price, _ = self.orders.pop(order_id)
        queue = self.levels[(side, price)]
        queue.remove(order_id)
        if not queue:
            del self.levels[(side, price)]
        at, last = self.position.pop(order_id), self.ids.pop()
        if last != order_id:
            self.ids[at] = last
            self.position[last] = at

    def move(self, order_id: int, price: int, size: int) -> None:
        side = self.orders[order_id][0]
        self.remove(order_id)
        self.add(order_id, side, price, size)


def l3_stream(count: int, seed: int = 2, target: int = 6_000) -> list[Row]:
    """Order events: thousands of live orders (at most ``target``) on ~300 levels a side.

    Adds land near the touch (80% at an exponential distance of mean 5 ticks, the rest
    anywhere in 400 ticks); cancels pick any live order; modifies shrink (keeping
    priority), grow, or move a tick away; fills hit the head of the best level; when the
    mid moves, the orders it crosses are cancelled.
    """
    rng = random.Random(seed)
    book = _Orders()
    rows: list[Row] = []
    mid, next_id = 100_000, 1

    def add(side: int, distance: int) -> None:
        nonlocal next_id
        price = mid - 1 - distance if side == BID else mid + 1 + distance
        size = rng.randint(1, 50)
        book.add(next_id, side, price, size)
        rows.append((ADD, side, price, size, next_id))
        next_id += 1

    for side in (BID, ASK):
        for distance in range(300):
            for _ in range(rng.randint(1, 2 * target // 600)):
                add(side, distance)
    while len(rows) < count:
        choice = rng.random()
        if choice < 0.005:
            mid += rng.choice((-1, 1))
            crossed = (ASK, mid) if (ASK, mid) in book.levels else (BID, mid)
            for order_id in list(book.levels.get(crossed, [])):
                side, price, _ = book.orders[order_id]
                book.remove(order_id)
                rows.append((DELETE, side, price, 0, order_id))
        elif choice < (0.50 if len(book.orders) < target else 0.38):
            near = rng.random() < 0.8
            add(rng.choice((BID, ASK)), int(rng.expovariate(1 / 5)) if near else rng.randrange(400))
        elif choice < 0.80:
            order_id = book.ids[rng.randrange(len(book.ids))]
            side, price, _ = book.orders[order_id]
            book.remove(order_id)
            rows.append((DELETE, side, price, 0, order_id))
        elif choice < 0.92:
            order_id = book.ids[rng.randrange(len(book.ids))]
            side, price, size = book.orders[order_id]
            kind = rng.random()
            if kind < 0.5 and size > 1:
                size -= rng.randint(1, size - 1)
                book.orders[order_id][2] = size
            else:
                if kind >= 0.8:  # a tick away from the touch
                    price = price - 1 if side == BID else price + 1
                size = rng.randint(1, 50)
                book.move(order_id, price, size)
            rows.append((UPDATE, side, price, size, order_id))
        else:
            side = rng.choice((BID, ASK))
            step = -1 if side == BID else 1
            best = mid + step
            while (side, best) not in book.levels:
                best += step
            order_id = book.levels[(side, best)][0]
            size = book.orders[order_id][2]
            fill = rng.randint(1, size)
            if fill == size:
                book.remove(order_id)
            else:
                book.orders[order_id][2] -= fill
            rows.append((FILL, side, best, fill, order_id))
    return rows


def es_deltas() -> tuple[np.ndarray, int] | None:
    """The ES MBO file as DELTA_DTYPE rows (A, C, M, R; T and F do not change the book)."""
    path = Path(os.environ.get("ZQ_DATA", ROOT.parent / "shared" / "data")) / ES_FILE
    if not path.is_file():
        return None
    import databento_dbn
    import zstandard

    with path.open("rb") as file:
        raw = zstandard.ZstdDecompressor().stream_reader(file, read_across_frames=True).read()
    decoder = databento_dbn.DBNDecoder(
        upgrade_policy=databento_dbn.VersionUpgradePolicy.UPGRADE_TO_V3
    )
    decoder.write(raw)
    records = decoder.decode()[1:]  # after the metadata
    actions = {"A": ADD, "C": DELETE, "M": UPDATE, "R": CLEAR}
    sides = {"B": BID, "A": ASK, "N": 0}
    kept = [record for record in records if record.action.value in actions]
    array = np.zeros(len(kept), DELTA_DTYPE)
    array["action"] = [actions[record.action.value] for record in kept]
    array["side"] = [sides[record.side.value] for record in kept]
    array["price"] = [record.price for record in kept]
    array["size"] = [record.size for record in kept]
    array["order_id"] = [record.order_id for record in kept]
    array["sequence"] = [record.sequence for record in kept]
    array["ts_event"] = [record.ts_event for record in kept]
    return array, len(records)


def binance_deltas() -> np.ndarray | None:
    """The Binance USD-M capture's book deltas as DELTA_DTYPE rows (prices 2, sizes 3 dp)."""
    path = Path(os.environ.get("ZQ_DATA", ROOT.parent / "shared" / "data")) / BINANCE_FILE
    if not path.is_file():
        return None
    from zq.data.loaders.binance import BinanceCaptureLoader

    loader = BinanceCaptureLoader(path, price_precision=2, size_precision=3)
    return np.concatenate([chunk.deltas for chunk in loader.chunks()])


# --- Benchmarks -----------------------------------------------------------------------------


def bench_l2() -> None:
    rows = l2_stream(1_000_000)
    count = len(rows)
    quads = [row[:4] for row in rows]
    actions, sides, prices, sizes = (list(column) for column in zip(*quads, strict=True))
    full = [(*row[:4], 0, n, 1_700_000_000_000_000_000 + n) for n, row in enumerate(rows)]
    array = to_array(rows)
    book = L2Book("BENCH.SIM", 2, 0)
    book.apply_batch(array)
    print(
        f"L2 stream: {count:,} deltas; final book {len(book.bids(10_000))} bid and "
        f"{len(book.asks(10_000))} ask levels"
    )

    def per_call_rows() -> float:
        apply_delta = L2Book("BENCH.SIM", 2, 0).apply_delta
        start = time.perf_counter()
        for action, side, price, size in quads:
            apply_delta(action, side, price, size)
        return time.perf_counter() - start

    def per_call_zip() -> float:
        apply_delta = L2Book("BENCH.SIM", 2, 0).apply_delta
        start = time.perf_counter()
        for action, side, price, size in zip(actions, sides, prices, sizes, strict=True):
            apply_delta(action, side, price, size)
        return time.perf_counter() - start

    def per_call_all_arguments() -> float:
        apply_delta = L2Book("BENCH.SIM", 2, 0).apply_delta
        start = time.perf_counter()
        for action, side, price, size, order_id, sequence, ts_event in full:
            apply_delta(action, side, price, size, order_id, sequence, ts_event)
        return time.perf_counter() - start

    def batch() -> float:
        fresh = L2Book("BENCH.SIM", 2, 0)
        start = time.perf_counter()
        fresh.apply_batch(array)
        return time.perf_counter() - start

    throughput("L2 apply_delta per call (list of 4-tuples)", count, per_call_rows)
    throughput("L2 apply_delta per call (zip of 4 lists)", count, per_call_zip)
    throughput("L2 apply_delta per call (all 7 arguments)", count, per_call_all_arguments)
    throughput("L2 apply_batch (DELTA_DTYPE array)", count, batch)

    deltas = binance_deltas()
    if deltas is None:
        print("Binance USD-M capture: not found (set ZQ_DATA to the shared data folder), skipped")
        return
    deep = L2Book("BTCUSDT-PERP.BINANCE", 2, 3)
    deep.apply_batch(deltas)
    print(
        f"Binance USD-M capture: {len(deltas):,} deltas; final book "
        f"{len(deep.bids(100_000))} bid and {len(deep.asks(100_000))} ask levels"
    )
    cpu_seconds = []

    def capture() -> float:
        fresh = L2Book("BTCUSDT-PERP.BINANCE", 2, 3)
        start, cpu_start = time.perf_counter(), time.process_time()
        fresh.apply_batch(deltas)
        cpu_seconds.append(time.process_time() - cpu_start)
        return time.perf_counter() - start

    throughput("L2 apply_batch (Binance USD-M capture)", len(deltas), capture)
    print(
        f"{'  the same, CPU time':<58} "
        f"{len(deltas) / statistics.median(cpu_seconds) / 1e6:7.2f} M deltas/s median"
    )


def bench_l3() -> None:
    start = time.perf_counter()
    rows = l3_stream(1_000_000)
    array = to_array(rows)
    book = L3Book("BENCH.SIM", 2, 0)
    book.apply_batch(array)
    book.check_integrity()
    print(
        f"L3 stream: {len(rows):,} events (made in {time.perf_counter() - start:.1f} s); "
        f"final book {book.order_count:,} orders on {len(book.bids(10_000))} bid and "
        f"{len(book.asks(10_000))} ask levels"
    )

    def batch() -> float:
        fresh = L3Book("BENCH.SIM", 2, 0)
        start = time.perf_counter()
        fresh.apply_batch(array)
        return time.perf_counter() - start

    def per_call() -> float:
        apply_delta = L3Book("BENCH.SIM", 2, 0).apply_delta
        start = time.perf_counter()
        for action, side, price, size, order_id in rows:
            apply_delta(action, side, price, size, order_id)
        return time.perf_counter() - start

    throughput("L3 apply_batch (synthetic, new book each run)", len(rows), batch, "events")
    throughput("L3 apply_delta per call (synthetic)", len(rows), per_call, "events")

    es = es_deltas()
    if es is None:
        print(f"L3 replay of {ES_FILE}: file not found (set ZQ_DATA), skipped")
        return
    es_array, records = es

    def es_replay() -> float:
        fresh = L3Book("ESH4.GLBX", 9, 0)
        start = time.perf_counter()
        fresh.apply_batch(es_array)
        return time.perf_counter() - start

    print(
        f"ES file: {records:,} MBO records, {len(es_array):,} change the book "
        f"(T and F records do not)"
    )
    throughput("L3 replay of the ES file (records/s, new book each run)", records, es_replay,
               "events")
    throughput("L3 replay of the ES file (book-changing rows/s)", len(es_array), es_replay,
               "rows")


def bench_queries() -> None:
    book = L3Book("BENCH.SIM", 2, 0)
    book.apply_batch(to_array(l3_stream(200_000)))
    one = 1_000_000
    measure("best_bid_raw()", book.best_bid_raw, one)
    measure("best_bid_price()", book.best_bid_price, one)
    measure("mid() (exact Decimal)", book.mid, 200_000)
    measure("bids(10)", lambda: book.bids(10), 200_000)
    measure("avg_fill_price(BUY, 500 lots)", lambda: book.avg_fill_price(BID, 500), 100_000)
    measure("to_arrays(10)", lambda: book.to_arrays(10), 100_000)
    measure("check_integrity() (whole L3 book)", book.check_integrity, 200)


def main() -> None:
    bench_l2()
    bench_l3()
    bench_queries()


if __name__ == "__main__":
    main()
