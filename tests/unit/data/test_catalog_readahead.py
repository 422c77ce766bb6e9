"""Read-ahead of catalog chunks on a background thread: same items in the same order, a
bounded number read ahead, errors raised where the consumer reaches them, and the thread
stopped and joined whenever the streams end."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from zq.data.arrays import TRADE_DTYPE
from zq.data.catalog import DataKind, ParquetDataCatalog
from zq.data.catalog.readahead import SWITCH_INTERVAL, ReadAhead
from zq.data.errors import DataFormatError
from zq.model.identifiers import InstrumentId

BTC = InstrumentId("BTCUSDT.BINANCE")
ETH = InstrumentId("ETHUSDT.BINANCE")


def workers(prefix: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(prefix)]


class Counted:
    """An iterator of 0..n-1 that counts the items asked of it and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.asked = 0
        self.closed = False
        self.threads: list[str] = []  # the thread that read each item
        self._items = self._run(n, fail_at)

    def _run(self, n: int, fail_at: int | None) -> Iterator[int]:
        try:
            for item in range(n):
                self.asked += 1
                self.threads.append(threading.current_thread().name)
                if item == fail_at:
                    raise ValueError(f"item {item} is bad")
                yield item
        finally:
            self.closed = True

    def __iter__(self) -> Counted:
        return self

    def __next__(self) -> int:
        return next(self._items)

    def close(self) -> None:
        self._items.close()


# -- ReadAhead -------------------------------------------------------------------------------


def test_each_stream_yields_its_iterators_items_in_order_the_first_read_in_place():
    ahead = ReadAhead(depth=2, name="zq-test-ahead")
    sources = [Counted(n) for n in (7, 0, 3, 12)]
    streams = [ahead.stream(source) for source in sources]
    got: list[list[int]] = [[] for _ in streams]
    live = set(range(len(streams)))
    while live:  # round robin, as a replay interleaves its sources
        for index in sorted(live):
            item = next(streams[index], None)
            if item is None:
                live.discard(index)
            else:
                got[index].append(item)
    assert got == [list(range(n)) for n in (7, 0, 3, 12)]
    # The consumer waits for a first item anyway: it reads it; the worker reads the rest,
    # or the consumer does, for a step the worker had not started when it was needed.
    here = threading.current_thread().name
    for source in sources:
        assert source.threads[:1] == [here][: source.asked]
        assert set(source.threads[1:]) <= {"zq-test-ahead_0", here}
    assert all(source.closed for source in sources)
    assert not ahead.running and workers("zq-test-ahead") == []


class Blocking:
    """An iterator of 0..n-1 whose item ``block_at`` waits for ``release`` (set by the
    test) before it is yielded, noting the thread that read each item."""

    def __init__(self, n: int, block_at: int) -> None:
        self.started = threading.Event()  # set when the blocking item is being read
        self.release = threading.Event()
        self.threads: list[str] = []
        self._items = self._run(n, block_at)

    def _run(self, n: int, block_at: int) -> Iterator[int]:
        for item in range(n):
            self.threads.append(threading.current_thread().name)
            if item == block_at:
                self.started.set()
                assert self.release.wait(10), "the test never released the item"
            yield item

    def __iter__(self) -> Blocking:
        return self

    def __next__(self) -> int:
        return next(self._items)


def test_a_step_the_worker_has_not_started_is_read_by_the_consumer_not_waited_for():
    ahead = ReadAhead(depth=2, name="zq-test-take")
    slow, fast = Blocking(4, block_at=1), Counted(6)
    slow_stream, fast_stream = ahead.stream(slow), ahead.stream(fast)
    here = threading.current_thread().name
    assert next(slow_stream) == 0  # in place; the worker is asked items 1 and 2 of slow
    assert slow.started.wait(10)  # ... and is stuck reading item 1
    # fast's steps queue behind slow's on the one worker: the consumer reads them itself.
    assert [next(fast_stream) for _ in range(3)] == [0, 1, 2]
    assert fast.threads[:3] == [here, here, here]
    slow.release.set()  # the worker goes on; both streams end with every item in order
    assert list(slow_stream) == [1, 2, 3] and slow.threads[1] == "zq-test-take_0"
    assert list(fast_stream) == [3, 4, 5]
    assert fast.threads[:3] == [here] * 3 and fast.closed
    assert not ahead.running and workers("zq-test-take") == []


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_at_most_depth_items_are_asked_ahead_of_the_consumer(depth):
    source = Counted(40)
    stream = ReadAhead(depth).stream(source)
    taken = 0
    for _ in stream:
        taken += 1
        # The item in hand plus at most ``depth`` asked ahead (read or being read).
        assert source.asked <= taken + depth
    assert taken == 40


def test_an_error_is_raised_where_the_consumer_reaches_it_after_the_items_before():
    ahead = ReadAhead(depth=2, name="zq-test-fail")
    source = Counted(10, fail_at=4)
    stream = ahead.stream(source)
    got = []
    with pytest.raises(ValueError, match="item 4 is bad"):
        for item in stream:
            got.append(item)
    assert got == [0, 1, 2, 3]
    assert not ahead.running and workers("zq-test-fail") == []


def test_a_stream_closed_early_closes_its_iterator_and_the_last_one_joins_the_worker():
    ahead = ReadAhead(depth=2, name="zq-test-close")
    first, second = Counted(100), Counted(100)
    one, two = ahead.stream(first), ahead.stream(second)
    assert [next(one), next(one), next(two)] == [0, 1, 0]
    one.close()  # type: ignore[attr-defined]
    assert first.closed and first.asked <= 2 + 2
    assert ahead.running  # the other stream still reads
    two.close()  # type: ignore[attr-defined]
    assert second.closed
    assert not ahead.running and workers("zq-test-close") == []


def test_a_stream_dropped_unfinished_is_closed_by_the_collector_and_ends_the_worker():
    ahead = ReadAhead(depth=2, name="zq-test-drop")
    source = Counted(100)
    stream = ahead.stream(source)
    assert not ahead.running and source.asked == 0  # nothing is read before it is asked
    assert next(stream) == 0
    assert ahead.running
    del stream
    gc.collect()
    assert source.closed and source.asked <= 1 + 2
    assert not ahead.running and workers("zq-test-drop") == []


def test_the_switch_interval_is_lowered_while_workers_run_and_then_restored():
    # A reader waiting for the interpreter's lock gets it within the switch interval when
    # the consumer runs compiled code: while a worker runs it is SWITCH_INTERVAL at most.
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        first, second = ReadAhead(name="zq-test-switch-1"), ReadAhead(name="zq-test-switch-2")
        one, two = first.stream(Counted(5)), second.stream(Counted(5))
        assert next(one) == 0 and sys.getswitchinterval() == SWITCH_INTERVAL
        assert next(two) == 0
        one.close()  # type: ignore[attr-defined]
        assert sys.getswitchinterval() == SWITCH_INTERVAL  # the other worker still runs
        assert list(two) == [1, 2, 3, 4]
        assert sys.getswitchinterval() == 0.005
        # An interval someone set while a worker ran is theirs: it is left as it is.
        three = first.stream(Counted(5))
        assert next(three) == 0 and sys.getswitchinterval() == SWITCH_INTERVAL
        sys.setswitchinterval(0.0002)
        assert list(three) == [1, 2, 3, 4]
        assert sys.getswitchinterval() == pytest.approx(0.0002)
    finally:
        sys.setswitchinterval(before)


def test_a_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth must be at least 1, got 0"):
        ReadAhead(0)


# -- the catalog's streams ---------------------------------------------------------------------


def _trades(ts_init: np.ndarray, first_id: int) -> np.ndarray:
    rows = np.zeros(len(ts_init), TRADE_DTYPE)
    rows["ts_init"] = ts_init
    rows["ts_event"] = ts_init - 5
    rows["price"] = 1_000_000 + (ts_init % 977)
    rows["size"] = 1 + ts_init % 13
    rows["trade_id"] = first_id + np.arange(len(ts_init))
    rows["aggressor_side"] = 1 + ts_init % 2
    return rows


@pytest.fixture
def two_series(tmp_path: Path) -> ParquetDataCatalog:
    """Two trade series, each in two files of several row groups."""
    catalog = ParquetDataCatalog(tmp_path / "catalog", row_group_size=300)
    rng = np.random.default_rng(5)
    for key, first_id in ((BTC, 1), (ETH, 100_000)):
        stamps = np.sort(rng.integers(0, 10_000_000, 2_000))
        for part in np.array_split(np.arange(2_000), [1_200]):
            rows = _trades(stamps[part], first_id + int(part[0]))
            catalog.write_trades(key, rows, price_precision=2, size_precision=3)
    return catalog


@pytest.mark.parametrize("read_ahead", [1, 2])
def test_streams_read_ahead_give_the_same_chunks_as_streams_read_in_place(two_series, read_ahead):
    def chunks(depth: int) -> list[tuple[str, bytes]]:
        streams = two_series.series_streams(chunk_size=128, read_ahead=depth)
        return [(series.key, rows.tobytes()) for stream in streams for series, rows in stream]

    in_place = chunks(0)
    assert sum(len(data) for _, data in in_place) == 4_000 * TRADE_DTYPE.itemsize
    assert chunks(read_ahead) == in_place
    merged = [rows.tobytes() for _, rows in two_series.stream(chunk_size=128, read_ahead=0)]
    assert [rows.tobytes() for _, rows in two_series.stream(chunk_size=128)] == merged
    assert workers("zq-catalog-read") == []


def test_a_read_ahead_below_zero_is_refused(two_series):
    with pytest.raises(ValueError, match="read_ahead must be 0 or more, got -1"):
        two_series.series_streams(read_ahead=-1)


def _corrupt_row_group(path: Path, group: int) -> None:
    """Overwrite bytes inside one row group's first data page (the footer stays valid)."""
    column = pq.ParquetFile(path).metadata.row_group(group).column(2)  # price
    data = bytearray(path.read_bytes())
    at = column.data_page_offset + 4
    data[at : at + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("read_ahead", [0, 2])
def test_a_row_group_that_does_not_decode_is_named_when_the_stream_reaches_it(
    two_series, read_ahead
):
    second = two_series.files(DataKind.TRADES, BTC)[1].path  # 800 rows: groups 0..2
    _corrupt_row_group(second, 1)
    (stream, _) = two_series.series_streams(chunk_size=100, read_ahead=read_ahead)
    rows = 0
    with pytest.raises(DataFormatError) as refused:
        for _, chunk in stream:
            rows += len(chunk)
    # The first file (1,200 rows) and the second file's group 0 (300 rows) came first.
    assert rows == 1_200 + 300
    assert f"file {second}: row group 1 (of 3) does not decode" in str(refused.value)
    assert workers("zq-catalog-read") == []


def test_read_names_the_row_group_that_does_not_decode(two_series):
    path = two_series.files(DataKind.TRADES, ETH)[0].path  # 1,200 rows: groups 0..3
    _corrupt_row_group(path, 3)
    with pytest.raises(DataFormatError, match=r"row group 3 \(of 4\) does not decode"):
        two_series.read(DataKind.TRADES, ETH)
