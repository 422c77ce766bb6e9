"""Throughput of the Databento DBN loader and of L3 replay of the real ES file.

Prints the median of several runs (default 15, at least 5) of:

- DBN decode: the ESH4 MBO file (68,792 records, DBN v1, several zstd frames) from disk to
  zq arrays (zstd, record checks, price conversion, split into deltas / trades / fills);
  the raw DBN record arrays alone; and, for scale, ``databento-dbn``'s own decoding of the
  same file to one Python object per record;
- L3 replay: the file's 59,448 book deltas applied to a fresh compiled ``L3Book`` in one
  batch, and one call per delta from Python. The file holds 68,792 events: its 2,973 trades
  and 6,371 fills do not change a Databento book, so replaying the file is applying its
  deltas; events/s counts all 68,792 events, deltas/s only the deltas applied;
- both together: decode in chunks and apply each chunk as it comes.

Run after building: ``python benchmarks/bench_databento.py [--runs N]``. Reads the data from
``ZQ_DATA`` (default ``../shared/data`` beside the checkout).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import databento_dbn as dbn
import zstandard

from zq.data.loaders.databento import DatabentoLoader, load_deltas
from zq_core.book import L3Book

DATA = Path(os.environ.get("ZQ_DATA", ROOT.parent / "shared" / "data"))
ES_MBO = DATA / "databento" / "esh4-glbx-mdp3-20231225.mbo.dbn.zst"
EVENTS = 68_792


def median_seconds(
    run: Callable[[], object], runs: int, setup: Callable[[], None] | None = None
) -> float:
    """Return the median wall time of ``runs`` calls of ``run`` (``setup`` untimed before each)."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(label: str, seconds: float, count: int, unit: str) -> None:
    print(f"{label:<62} {seconds * 1e3:9.2f} ms {count / seconds:16,.0f} {unit}/s")


def decode_arrays() -> int:
    loader = DatabentoLoader(ES_MBO, price_precision=2)
    return sum(chunk.record_count for chunk in loader.iter_chunks())


def decode_raw() -> int:
    loader = DatabentoLoader(ES_MBO)
    return sum(len(records) for records in loader.iter_records())


def decode_dbn_objects() -> int:
    decoder = dbn.DBNDecoder()
    count = 0
    with zstandard.ZstdDecompressor().stream_reader(
        ES_MBO.open("rb"), read_across_frames=True, closefd=True
    ) as reader:
        while data := reader.read(1 << 20):
            count += len(decoder.write_and_decode(data))
    return count - 1  # the metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per figure (>= 5)")
    runs = max(5, parser.parse_args().runs)
    print(f"Databento: {ES_MBO.name}, {EVENTS:,} events; median of {runs} runs")

    assert decode_arrays() == decode_raw() == decode_dbn_objects() == EVENTS
    for label, decode in (
        ("decode: file -> zq arrays (deltas, trades, fills)", decode_arrays),
        ("decode: file -> raw DBN record arrays", decode_raw),
        ("decode: databento-dbn objects (for scale)", decode_dbn_objects),
    ):
        report(label, median_seconds(decode, runs), EVENTS, "records")

    deltas = load_deltas(ES_MBO, price_precision=2)
    rows = deltas.tolist()
    book: list[L3Book] = []

    def fresh() -> None:
        book[:] = [L3Book("ESH4.GLBX", 2, 0, strict=True)]

    def batch() -> None:
        assert book[0].apply_batch(deltas) == len(deltas)

    def per_call() -> None:
        apply = book[0].apply_delta
        for ts_event, _, price, size, order_id, sequence, action, side, _, _ in rows:
            apply(action, side, price, size, order_id, sequence, ts_event)

    seconds = median_seconds(batch, runs, fresh)
    assert book[0].faults == 0 and book[0].order_count == 11_217
    report("L3 replay, batch (apply_batch): file events", seconds, EVENTS, "events")
    report("L3 replay, batch (apply_batch): deltas applied", seconds, len(deltas), "deltas")
    seconds = median_seconds(per_call, runs, fresh)
    report("L3 replay, one apply_delta call per delta: file events", seconds, EVENTS, "events")

    def streamed() -> None:
        target = L3Book("ESH4.GLBX", 2, 0, strict=True)
        for chunk in DatabentoLoader(ES_MBO, price_precision=2).iter_chunks(chunk_size=16_384):
            target.apply_batch(chunk.deltas)

    seconds = median_seconds(streamed, runs)
    report("decode + L3 replay, chunk by chunk: file events", seconds, EVENTS, "events")


if __name__ == "__main__":
    main()
