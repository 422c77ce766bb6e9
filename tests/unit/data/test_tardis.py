"""Tardis CSV loaders on small hand-written files, including malformed ones."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from zq.data.errors import DataFormatError
from zq.data.loaders import tardis
from zq.model.data import BookFlags
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq.model.identifiers import TradeId

BOOK_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
SNAP, LAST = int(BookFlags.SNAPSHOT), int(BookFlags.LAST)
ADD, UPDATE, DELETE, CLEAR = (
    int(a) for a in (BookAction.ADD, BookAction.UPDATE, BookAction.DELETE, BookAction.CLEAR)
)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _book(tmp_path, rows):
    return _write(tmp_path, "book.csv", BOOK_HEADER + "".join(f"deribit,X,{r}\n" for r in rows))


def _deltas(path, chunk_size=100, **options):
    chunks = list(tardis.book_l2_chunks(path, 1, 0, chunk_size=chunk_size, **options))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=tardis.DELTA_DTYPE)


BOOK_ROWS = [
    "5,50,false,bid,99,1",  # before the first snapshot: skipped
    "10,100,true,ask,101.5,5",
    "10,100,true,bid,100,7",
    "20,200,false,bid,100,0",
    "20,200,false,ask,101,2",
    "30,300,true,bid,98,1",  # a new snapshot after updates: the book is cleared first
    "30,300,true,ask,99.5,3",
]


def test_incremental_book_becomes_clear_snapshot_adds_then_updates_and_deletes(tmp_path):
    deltas = _deltas(_book(tmp_path, BOOK_ROWS))
    assert deltas["action"].tolist() == [CLEAR, ADD, ADD, DELETE, UPDATE, CLEAR, ADD, ADD]
    assert deltas["side"].tolist() == [0, 2, 1, 1, 2, 0, 1, 2]
    assert deltas["price"].tolist() == [0, 1015, 1000, 1000, 1010, 0, 980, 995]
    assert deltas["size"].tolist() == [0, 5, 7, 0, 2, 0, 1, 3]
    assert deltas["ts_event"].tolist() == [10_000] * 3 + [20_000] * 2 + [30_000] * 3
    assert deltas["ts_init"].tolist() == [100_000] * 3 + [200_000] * 2 + [300_000] * 3
    flags = deltas["flags"].tolist()
    assert flags == [SNAP, SNAP, SNAP | LAST, 0, LAST, SNAP, SNAP, SNAP | LAST]


def test_rows_before_the_first_snapshot_are_kept_when_asked(tmp_path):
    deltas = _deltas(_book(tmp_path, BOOK_ROWS), skip_until_snapshot=False)
    assert deltas["action"].tolist()[:2] == [UPDATE, CLEAR]
    assert deltas["flags"][0] == LAST


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5])
def test_chunking_never_changes_the_deltas_and_never_splits_a_message(tmp_path, chunk_size):
    path = _book(tmp_path, BOOK_ROWS)
    whole = _deltas(path)
    chunks = list(tardis.book_l2_chunks(path, 1, 0, chunk_size=chunk_size))
    assert all(chunk["flags"][-1] & LAST for chunk in chunks)
    assert np.concatenate(chunks).tobytes() == whole.tobytes()


def test_a_file_with_no_snapshot_yields_nothing(tmp_path):
    assert _deltas(_book(tmp_path, ["5,50,false,bid,99,1"])).size == 0


def test_book_deltas_are_objects_of_the_instrument(tmp_path):
    deltas = list(tardis.book_l2_deltas(_book(tmp_path, BOOK_ROWS), "BTC-PERPETUAL.DERIBIT", 1, 0))
    assert len(deltas) == 8
    assert deltas[1].action is BookAction.ADD and deltas[1].side is OrderSide.SELL
    assert str(deltas[1].price) == "101.5"


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ("10,100,yes,bid,1,1", "is_snapshot", "expected one of: true, false"),
        ("10,100,true,buy,1,1", "side", "expected one of: bid, ask"),
        ("10,100,true,bid,1.25,1", "price", "more decimals than the precision (1)"),
        ("10,100,true,bid,1,-1", "amount", "negative value"),
        ("10,1e2x,true,bid,1,1", "local_timestamp", "not a number"),
        ("10,100,true,bid,,1", "price", "empty value"),
    ],
)
def test_malformed_book_rows_are_refused_naming_line_field_and_value(tmp_path, row, field, problem):
    path = _book(tmp_path, ["10,100,true,ask,2,1", row])
    with pytest.raises(DataFormatError, match=re.escape(problem)) as caught:
        _deltas(path)
    assert caught.value.line == 3
    assert caught.value.field == field
    assert caught.value.path == str(path)


def test_a_row_with_a_missing_field_is_refused(tmp_path):
    path = _write(tmp_path, "b.csv", BOOK_HEADER + "deribit,X,10,100,true,ask,2\n")
    with pytest.raises(DataFormatError, match="line 2: expected 8 comma-separated fields, found 7"):
        _deltas(path)


def test_a_file_without_the_book_columns_is_refused(tmp_path):
    path = _write(tmp_path, "b.csv", "exchange,symbol,timestamp,local_timestamp,side,price\n")
    with pytest.raises(DataFormatError, match="header lacks column\\(s\\) is_snapshot, amount"):
        _deltas(path)


SNAPSHOT_HEADER = (
    "exchange,symbol,timestamp,local_timestamp,"
    "asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,"
    "asks[1].price,asks[1].amount,bids[1].price,bids[1].amount\n"
)


def test_book_snapshots_become_depth_arrays_and_objects(tmp_path):
    path = _write(
        tmp_path,
        "s.csv",
        SNAPSHOT_HEADER + "x,Y,1,2,10.5,1,10.4,2,10.6,3,10.3,4\nx,Y,3,4,10.5,1,10.4,2,,,,\n",
    )
    (chunk,) = tardis.book_snapshot_chunks(path, 1, 0)
    assert chunk.ts_event.tolist() == [1000, 3000] and chunk.ts_init.tolist() == [2000, 4000]
    assert chunk.bid_price.tolist() == [[104, 103], [104, 0]]
    assert chunk.ask_size.tolist() == [[1, 3], [1, 0]]
    assert chunk.bid_levels.tolist() == [2, 1]
    depths = list(tardis.book_snapshot_depths(path, "Y.X", 1, 0))
    assert [str(level.price) for level in depths[0].bids] == ["10.4", "10.3"]
    assert [str(level.price) for level in depths[1].asks] == ["10.5"]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("x,Y,1,2,10.5,1,10.4,2,10.4,3,10.3,4", "asks not strictly ordered best first"),
        ("x,Y,1,2,10.5,1,10.4,2,10.6,3,10.5,4", "bids not strictly ordered best first"),
        ("x,Y,1,2,,,10.4,2,10.6,3,10.3,4", "level present after an empty level"),
        ("x,Y,1,2,10.5,,10.4,2,10.6,3,10.3,4", "both present or both empty"),
    ],
)
def test_inconsistent_book_snapshots_are_refused(tmp_path, row, problem):
    path = _write(tmp_path, "s.csv", SNAPSHOT_HEADER + row + "\n")
    with pytest.raises(DataFormatError, match=problem) as caught:
        list(tardis.book_snapshot_chunks(path, 1, 0))
    assert caught.value.line == 2


def test_a_snapshot_file_without_level_columns_is_refused(tmp_path):
    path = _write(tmp_path, "s.csv", "exchange,symbol,timestamp,local_timestamp,asks[0].price\n")
    with pytest.raises(DataFormatError, match="not a book_snapshot_N header"):
        list(tardis.book_snapshot_chunks(path, 1, 0))


TRADES = (
    "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
    "bitmex,XBTUSD,1,2,42377944,buy,8531.5,2152\n"
    "bitmex,XBTUSD,3,4,ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf,sell,8531,1\n"
    "bitmex,XBTUSD,5,6,,unknown,8531,1\n"
)


def test_trades_keep_numeric_ids_in_arrays_and_every_id_as_text(tmp_path):
    path = _write(tmp_path, "t.csv", TRADES)
    (chunk,) = tardis.trade_chunks(path, 1, 0)
    assert chunk.trades["trade_id"].tolist() == [42377944, 0, 0]
    assert chunk.trades["aggressor_side"].tolist() == [1, 2, 0]
    assert chunk.trades["price"].tolist() == [85315, 85310, 85310]
    assert chunk.trade_ids.tolist()[1] == b"ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf"
    ticks = list(tardis.trade_ticks(path, "XBTUSD.BITMEX", 1, 0))
    assert [t.trade_id for t in ticks] == [
        TradeId("42377944"),
        TradeId("ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf"),
        TradeId("5000-2"),
    ]
    assert ticks[0].aggressor_side is AggressorSide.BUYER


def test_a_trade_with_an_unknown_side_word_is_refused(tmp_path):
    path = _write(tmp_path, "t.csv", TRADES.replace("sell", "short"))
    with pytest.raises(DataFormatError, match="line 3, field 'side'"):
        list(tardis.trade_chunks(path, 1, 0))


QUOTES = (
    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n"
    "huobi,BTC-USD,1,2,5494,8629.3,8629.2,806\n"
    "huobi,BTC-USD,3,4,,,8629.2,806\n"
)


def test_quotes_stream_from_gzip_and_an_empty_side_is_zero(tmp_path):
    path = tmp_path / "q.csv.gz"
    path.write_bytes(gzip.compress(QUOTES.encode()))
    (quotes,) = tardis.quote_chunks(path, 1, 0)
    assert quotes["bid_price"].tolist() == [86292, 86292]
    assert quotes["ask_price"].tolist() == [86293, 0]
    assert quotes["ask_size"].tolist() == [5494, 0]
    ticks = list(tardis.quote_ticks(path, "BTC-USD.HUOBI", 1, 0))
    assert str(ticks[0].ask_price) == "8629.3" and ticks[0].ts_init == 2000


def test_a_quote_price_without_its_amount_is_refused(tmp_path):
    path = _write(tmp_path, "q.csv", QUOTES.replace(",,,8629.2", ",,8629.3,8629.2"))
    with pytest.raises(DataFormatError, match=r"line 3, field 'ask_amount'.*both present"):
        list(tardis.quote_chunks(path, 1, 0))
