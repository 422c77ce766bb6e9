"""hftbacktest event files: reading views, ranged clears, the float grid, and writing back."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zq.data.arrays import DELTA_DTYPE, TRADE_DTYPE
from zq.data.errors import DataFormatError
from zq.data.loaders import hftbacktest as hb
from zq.model.data import BookFlags
from zq.model.enums import AggressorSide, BookAction

BOTH = hb.EXCH_EVENT | hb.LOCAL_EVENT
BID, ASK = hb.BUY_EVENT, hb.SELL_EVENT
ADD, UPDATE, DELETE, CLEAR = (
    int(a) for a in (BookAction.ADD, BookAction.UPDATE, BookAction.DELETE, BookAction.CLEAR)
)
SNAP, LAST = int(BookFlags.SNAPSHOT), int(BookFlags.LAST)


def _events(*rows):
    """Rows of (ev, exch_ts, local_ts, px, qty)."""
    events = np.zeros(len(rows), dtype=hb.EVENT_DTYPE)
    for index, (ev, exch_ts, local_ts, px, qty) in enumerate(rows):
        events[index] = (ev, exch_ts, local_ts, px, qty, 0, 0, 0.0)
    return events


def _save(tmp_path, events, name="events.npz"):
    path = tmp_path / name
    np.savez_compressed(path, data=events)
    return path


def _read(path, price_precision=1, size_precision=3, **options):
    chunks = list(hb.event_chunks(path, price_precision, size_precision, **options))
    deltas = np.concatenate([c.deltas for c in chunks]) if chunks else np.zeros(0, DELTA_DTYPE)
    trades = np.concatenate([c.trades for c in chunks]) if chunks else np.zeros(0, TRADE_DTYPE)
    return deltas, trades


BOOK = _events(
    (hb.DEPTH_EVENT | BOTH | BID, 10, 11, 100.0, 1.0),
    (hb.DEPTH_EVENT | BOTH | BID, 10, 11, 99.9, 2.0),
    (hb.DEPTH_EVENT | BOTH | BID, 10, 11, 99.8, 3.0),
    (hb.DEPTH_EVENT | BOTH | ASK, 10, 11, 100.1, 4.0),
    (hb.TRADE_EVENT | BOTH | ASK, 12, 13, 100.0, 0.5),  # a seller-initiated trade
    # A snapshot: clear bids from the best down to 99.9 (99.8 stays), then the new levels.
    (hb.DEPTH_CLEAR_EVENT | BOTH | BID, 20, 21, 99.9, 0.0),
    (hb.DEPTH_SNAPSHOT_EVENT | BOTH | BID, 20, 21, 100.0, 5.0),
    (hb.DEPTH_EVENT | BOTH | BID, 30, 31, 100.0, 0.0),
    (hb.DEPTH_CLEAR_EVENT | BOTH, 40, 41, 0.0, 0.0),
)


def test_depth_rows_become_l2_updates_and_a_ranged_clear_deletes_each_cleared_level(tmp_path):
    deltas, trades = _read(_save(tmp_path, BOOK))
    assert deltas["action"].tolist() == [UPDATE] * 4 + [DELETE, DELETE, ADD, DELETE, CLEAR]
    assert deltas["price"].tolist() == [1000, 999, 998, 1001, 1000, 999, 1000, 1000, 0]
    assert deltas["size"].tolist() == [1000, 2000, 3000, 4000, 0, 0, 5000, 0, 0]
    assert deltas["side"].tolist() == [1, 1, 1, 2, 1, 1, 1, 1, 0]
    assert deltas["flags"].tolist() == [0, 0, 0, LAST, 0, 0, SNAP | LAST, LAST, LAST]
    assert deltas["ts_event"].tolist() == [10] * 4 + [20] * 3 + [30, 40]
    assert deltas["ts_init"].tolist() == [11] * 4 + [21] * 3 + [31, 41]
    assert trades[["ts_event", "ts_init", "price", "size", "aggressor_side"]].tolist() == [
        (12, 13, 1000, 500, int(AggressorSide.SELLER))
    ]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 7])
def test_chunking_never_changes_the_result_and_never_splits_a_timestamp(tmp_path, chunk_size):
    path = _save(tmp_path, BOOK)
    whole, trades = _read(path)
    chunks = list(hb.event_chunks(path, 1, 3, chunk_size=chunk_size))
    assert all(c.deltas["flags"][-1] & LAST for c in chunks if len(c.deltas))
    assert np.concatenate([c.deltas for c in chunks]).tobytes() == whole.tobytes()
    assert np.concatenate([c.trades for c in chunks]).tobytes() == trades.tobytes()


def test_each_view_reads_its_own_rows_of_a_split_event(tmp_path):
    # One trade whose exchange and local orders disagree with a depth event's: split rows.
    events = _events(
        (hb.TRADE_EVENT | hb.EXCH_EVENT | BID, 5, 30, 100.0, 1.0),
        (hb.DEPTH_EVENT | BOTH | BID, 10, 20, 99.0, 1.0),
        (hb.TRADE_EVENT | hb.LOCAL_EVENT | BID, 5, 30, 100.0, 1.0),
    )
    path = _save(tmp_path, events)
    for view in ("local", "exchange"):
        deltas, trades = _read(path, view=view)
        assert len(deltas) == 1 and len(trades) == 1
        assert trades["ts_event"][0] == 5 and trades["ts_init"][0] == 30


def test_a_float_within_a_millionth_of_a_tick_is_taken_and_one_off_the_grid_is_refused(tmp_path):
    close = _events((hb.DEPTH_EVENT | BOTH | BID, 1, 1, 0.1 + 0.2, 1.0))  # 0.30000000000000004
    deltas, _ = _read(_save(tmp_path, close))
    assert deltas["price"].tolist() == [3]
    off = _events(
        (hb.DEPTH_EVENT | BOTH | BID, 1, 1, 100.0, 1.0),
        (hb.DEPTH_EVENT | BOTH | BID, 2, 2, 100.05, 1.0),
    )
    with pytest.raises(DataFormatError, match="not on the 1e-1 grid") as caught:
        _read(_save(tmp_path, off, "off.npz"))
    assert (caught.value.record, caught.value.field, caught.value.value) == (1, "px", 100.05)


@pytest.mark.parametrize(
    ("ev", "problem"),
    [
        (7 | BOTH, "unsupported event kind"),
        (hb.DEPTH_EVENT | BOTH | BID | ASK, "both the buy and the sell flag"),
        (hb.DEPTH_EVENT | BOTH, "depth event without a side"),
    ],
)
def test_malformed_events_are_refused_naming_the_record(tmp_path, ev, problem):
    path = _save(
        tmp_path, _events((hb.DEPTH_EVENT | BOTH | BID, 1, 1, 1.0, 1.0), (ev, 2, 2, 1.0, 1.0))
    )
    with pytest.raises(DataFormatError, match=problem) as caught:
        _read(path)
    assert (caught.value.record, caught.value.field, caught.value.value) == (1, "ev", hex(ev))


def test_a_file_of_another_dtype_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, data=np.zeros(3, dtype=[("ev", "<u8"), ("px", "<f8")]))
    with pytest.raises(DataFormatError, match="not an hftbacktest event array"):
        _read(path)


def test_a_truncated_file_is_refused(tmp_path):
    payload = io.BytesIO()
    header = {
        "descr": np.lib.format.dtype_to_descr(hb.EVENT_DTYPE),
        "fortran_order": False,
        "shape": (5,),
    }
    np.lib.format.write_array_header_1_0(payload, header)
    payload.write(BOOK[:3].tobytes())
    path = tmp_path / "cut.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.npy", payload.getvalue())
    with pytest.raises(DataFormatError, match="truncated: 5 rows declared"):
        _read(path)


def test_a_broken_array_header_is_refused(tmp_path):
    path = tmp_path / "broken.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.npy", b"\x93NUMPY\x01\x00\xff\x00{")
    with pytest.raises(DataFormatError, match=r"not a \.npy array"):
        _read(path)


def test_npy_files_are_read_too(tmp_path):
    path = tmp_path / "events.npy"
    np.save(path, BOOK)
    assert _read(path)[0].tobytes() == _read(_save(tmp_path, BOOK))[0].tobytes()


def test_zq_data_round_trips_through_npz_exactly(tmp_path):
    deltas, trades = _read(_save(tmp_path, BOOK))
    path = tmp_path / "back.npz"
    rows = hb.write_npz(path, deltas, trades, price_precision=1, size_precision=3)
    assert rows == len(deltas) + len(trades)
    again, again_trades = _read(path)
    assert again.tobytes() == deltas.tobytes()
    assert again_trades.tobytes() == trades.tobytes()


def test_written_events_whose_clocks_disagree_are_split_so_each_view_is_sorted(tmp_path):
    deltas = np.zeros(3, dtype=DELTA_DTYPE)
    deltas["ts_init"] = [10, 20, 30]
    deltas["ts_event"] = [9, 25, 15]  # the third reached the exchange before the second
    deltas["action"], deltas["side"], deltas["price"], deltas["size"] = UPDATE, 1, [10, 20, 30], 1
    events = hb.to_events(deltas, price_precision=0, size_precision=0)
    local = events[(events["ev"] & hb.LOCAL_EVENT) != 0]
    exchange = events[(events["ev"] & hb.EXCH_EVENT) != 0]
    assert local["local_ts"].tolist() == [10, 20, 30]
    assert exchange["exch_ts"].tolist() == [9, 15, 25]
    assert len(events) == 4  # one event needed two rows
    path = tmp_path / "split.npz"
    hb.write_npz(path, deltas, price_precision=0, size_precision=0)
    assert _read(path, 0, 0)[0]["ts_init"].tolist() == [10, 20, 30]
    assert _read(path, 0, 0, view="exchange")[0]["ts_event"].tolist() == [9, 15, 25]


def test_a_fill_delta_cannot_be_written(tmp_path):
    deltas = np.zeros(1, dtype=DELTA_DTYPE)
    deltas["action"] = BookAction.FILL
    with pytest.raises(ValueError, match="FILL"):
        hb.to_events(deltas, price_precision=0, size_precision=0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 10**9), st.integers(0, 10**7), st.sampled_from([1, 2]), st.integers(0, 5)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_l2_update_stream_round_trips(rows):
    deltas = np.zeros(len(rows), dtype=DELTA_DTYPE)
    for index, (price, size, side, step) in enumerate(rows):
        deltas[index] = (step, step, price, size, 0, 0, UPDATE if size else DELETE, side, 0, b"")
    deltas.sort(order="ts_init", kind="stable")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, data=hb.to_events(deltas, price_precision=4, size_precision=6))
    back = np.concatenate([c.deltas for c in _chunks_of(buffer.getvalue())])
    deltas["flags"] = np.append(deltas["ts_init"][1:] != deltas["ts_init"][:-1], True) * LAST
    assert back.tobytes() == deltas.tobytes()


def _chunks_of(data):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "x.npz"
        path.write_bytes(data)
        return list(hb.event_chunks(path, 4, 6, chunk_size=7))


def test_objects_carry_the_instrument_and_numbered_trade_ids(tmp_path):
    path = _save(tmp_path, BOOK)
    deltas = list(hb.book_deltas(path, "BTCUSDT.BINANCE", 1, 3))
    assert str(deltas[0].price) == "100.0" and str(deltas[0].size) == "1.000"
    (trade,) = hb.trade_ticks(path, "BTCUSDT.BINANCE", 1, 3)
    assert trade.trade_id == "1" and trade.aggressor_side is AggressorSide.SELLER


def test_a_one_side_clear_is_written_as_a_clear_up_to_that_sides_deepest_level(tmp_path):
    deltas = np.zeros(6, dtype=DELTA_DTYPE)
    deltas["ts_event"] = deltas["ts_init"] = [1, 1, 1, 1, 2, 3]
    deltas["action"] = [UPDATE, UPDATE, UPDATE, UPDATE, CLEAR, CLEAR]
    deltas["side"] = [1, 1, 2, 2, 2, 1]
    deltas["price"] = [99, 98, 101, 102, 0, 0]
    deltas["size"] = 1
    events = hb.to_events(deltas, price_precision=0, size_precision=0)
    clears = events[(events["ev"] & 0xFF) == hb.DEPTH_CLEAR_EVENT]
    assert clears["px"].tolist() == [102.0, 98.0]  # asks up to the highest, bids down to the lowest
    path = tmp_path / "clears.npz"
    hb.write_npz(path, deltas, price_precision=0, size_precision=0)
    back, _ = _read(path, 0, 0)
    assert back["action"][4:].tolist() == [DELETE, DELETE, DELETE, DELETE]
    assert back[["side", "price"]][4:].tolist() == [(2, 101), (2, 102), (1, 99), (1, 98)]
