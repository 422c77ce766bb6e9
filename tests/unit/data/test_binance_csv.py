"""Binance historical CSVs: T_DEPTH depth files, klines and (aggregate) trades."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest

from zq.data.errors import DataFormatError
from zq.data.loaders.binance_csv import (
    depth_chunks,
    depth_deltas,
    kline_bars,
    kline_chunks,
    trade_chunks,
    trade_ticks,
)
from zq.model.data import BookFlags
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq_core.fixed import Price, Quantity

LAST, SNAPSHOT = int(BookFlags.LAST), int(BookFlags.SNAPSHOT)
HEADER = "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n"
MS = 1_000_000


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def depth(path: Path, chunk_size: int = 100_000) -> np.ndarray:
    chunks = list(depth_chunks(path, price_precision=1, size_precision=3, chunk_size=chunk_size))
    return np.concatenate(chunks) if chunks else np.zeros(0)


def rows(deltas: np.ndarray) -> list[tuple[int, int, int, int, int, int]]:
    """(action, side, price, size, sequence, flags) of each delta."""
    return [
        (int(r["action"]), int(r["side"]), int(r["price"]), int(r["size"]), int(r["sequence"]), int(r["flags"]))
        for r in deltas
    ]


# -- depth -----------------------------------------------------------------------------------

SNAP = HEADER + (
    "BTCUSDT,1667346579146,100,100,b,snap,20377.0,1.770,-1\n"
    "BTCUSDT,1667346579146,100,100,b,snap,20376.9,0.001,-1\n"
    "BTCUSDT,1667346579146,100,100,a,snap,20377.1,2.500,-1\n"
)
UPDATES = HEADER + (
    "BTCUSDT,1667347199939,101,105,a,set,20377.1,0.000,100\n"
    "BTCUSDT,1667347199939,101,105,b,set,20377.0,1.000,100\n"
    "BTCUSDT,1667347199950,106,109,b,set,20376.9,0.000,105\n"
)


def test_snapshot_rows_become_adds_after_a_clear(tmp_path: Path) -> None:
    deltas = depth(write(tmp_path / "snap.csv", SNAP))

    assert rows(deltas) == [
        (BookAction.CLEAR, 0, 0, 0, 100, SNAPSHOT),
        (BookAction.ADD, OrderSide.BUY, 203770, 1770, 100, SNAPSHOT),
        (BookAction.ADD, OrderSide.BUY, 203769, 1, 100, SNAPSHOT),
        (BookAction.ADD, OrderSide.SELL, 203771, 2500, 100, SNAPSHOT | LAST),
    ]
    assert deltas["ts_event"].tolist() == deltas["ts_init"].tolist() == [1667346579146 * MS] * 4


def test_update_rows_set_levels_and_each_event_ends_with_last(tmp_path: Path) -> None:
    deltas = depth(write(tmp_path / "update.csv", UPDATES))

    assert rows(deltas) == [
        (BookAction.DELETE, OrderSide.SELL, 203771, 0, 105, 0),
        (BookAction.UPDATE, OrderSide.BUY, 203770, 1000, 105, LAST),
        (BookAction.DELETE, OrderSide.BUY, 203769, 0, 109, LAST),
    ]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4])
def test_events_split_across_chunks_give_the_same_deltas(tmp_path: Path, chunk_size: int) -> None:
    path = write(tmp_path / "both.csv", SNAP + UPDATES.removeprefix(HEADER) + SNAP.removeprefix(HEADER).replace(",100,100,", ",110,110,"))

    assert depth(path, chunk_size).tobytes() == depth(path).tobytes()


def test_each_snapshot_clears_the_book_first(tmp_path: Path) -> None:
    second = SNAP.removeprefix(HEADER).replace(",100,100,", ",110,110,")
    deltas = depth(write(tmp_path / "two.csv", SNAP + second))

    clears = deltas[deltas["action"] == BookAction.CLEAR]
    assert clears["sequence"].tolist() == [100, 110]
    assert (deltas["flags"] & LAST).nonzero()[0].tolist() == [3, 7]


def test_depth_deltas_yields_order_book_deltas(tmp_path: Path) -> None:
    deltas = list(
        depth_deltas(write(tmp_path / "u.csv", UPDATES), "BTCUSDT-PERP.BINANCE", price_precision=1, size_precision=3)
    )

    assert len(deltas) == 3
    assert deltas[1].price == Price("20377.0", 1) and deltas[1].size == Quantity("1.000", 3)
    assert deltas[1].side is OrderSide.BUY and deltas[1].flags == LAST


def test_depth_file_missing_a_column_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", HEADER.replace(",pu", "") + "BTCUSDT,1,1,1,b,set,1.0,1.000\n")

    with pytest.raises(DataFormatError, match="header lacks column"):
        depth(path)


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ("BTCUSDT,1667347199939,101,105,x,set,20377.1,0.000,100", "side", "expected one of"),
        ("BTCUSDT,1667347199939,101,105,a,upd,20377.1,0.000,100", "update_type", "expected one of"),
        ("BTCUSDT,1667347199939,101,105,a,set,20377.15,0.000,100", "price", "more decimals"),
        ("BTCUSDT,1667347199939,101,105,a,set,20377.1,-1.000,100", "qty", "negative"),
        ("BTCUSDT,16673471999x9,101,105,a,set,20377.1,0.000,100", "timestamp", "not a number"),
        ("BTCUSDT,1667347199939,101,105,a,set,20377.1,0.000", None, "expected 9"),
        ("ETHUSDT,1667347199939,101,105,a,set,20377.1,0.000,100", "symbol", "one symbol"),
    ],
)
def test_malformed_depth_row_is_refused_naming_line_and_field(
    tmp_path: Path, row: str, field: str | None, problem: str
) -> None:
    path = write(tmp_path / "bad.csv", UPDATES + row + "\n")

    with pytest.raises(DataFormatError, match=problem) as caught:
        depth(path)
    assert (caught.value.line, caught.value.field) == (5, field)


# -- klines ----------------------------------------------------------------------------------

KLINES = (
    "1637971200000,0.00002853,0.00002854,0.00002851,0.00002854,36304.20000000,1637971259999,1.03547608,79,19523.00000000,0.55694227,0\n"
    "1637971260000,0.00002854,0.00002860,0.00002854,0.00002859,89196.60000000,1637971319999,2.54751330,98,59004.20000000,1.68545512,0\n"
)
KLINE_HEADER = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n"


def klines(path: Path) -> np.ndarray:
    return np.concatenate(list(kline_chunks(path, price_precision=8, size_precision=8)))


def test_klines_are_stamped_at_their_close(tmp_path: Path) -> None:
    bars = klines(write(tmp_path / "k.csv", KLINES))

    # open 00:00:00.000, close time 00:00:59.999: the bar is complete at 00:01:00.000
    assert bars["ts_event"].tolist() == [1637971260000 * MS, 1637971320000 * MS]
    assert bars["ts_init"].tolist() == bars["ts_event"].tolist()
    assert bars[["open", "high", "low", "close", "volume"]].tolist()[0] == (2853, 2854, 2851, 2854, 3630420000000)


def test_kline_header_is_detected(tmp_path: Path) -> None:
    plain = klines(write(tmp_path / "plain.csv", KLINES))
    headed = klines(write(tmp_path / "headed.csv", KLINE_HEADER + KLINES))

    assert plain.tobytes() == headed.tobytes()


def test_kline_times_in_microseconds_are_read(tmp_path: Path) -> None:
    micro = KLINES.replace("1637971200000,", "1637971200000000,").replace(",1637971259999,", ",1637971259999999,")
    bars = klines(write(tmp_path / "us.csv", micro))

    assert bars["ts_event"][0] == 1637971260000 * MS


def test_kline_bars_yield_bars_of_the_given_type(tmp_path: Path) -> None:
    bars = list(
        kline_bars(write(tmp_path / "k.csv", KLINES), "ADABTC.BINANCE-1-MINUTE-LAST-EXTERNAL", price_precision=8, size_precision=8)
    )

    assert [bar.ts_event for bar in bars] == [1637971260000 * MS, 1637971320000 * MS]
    assert bars[0].close == Price("0.00002854", 8) and str(bars[0].bar_type.spec) == "1-MINUTE-LAST"


def test_kline_of_another_length_than_the_bar_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "k.csv", KLINES)

    with pytest.raises(DataFormatError, match="not 5-MINUTE-LAST long") as caught:
        list(kline_bars(path, "ADABTC.BINANCE-5-MINUTE-LAST-EXTERNAL", price_precision=8, size_precision=8))
    assert (caught.value.line, caught.value.field) == (1, "close_time")


@pytest.mark.parametrize(
    ("replace", "field", "problem"),
    [
        ((",0.00002860,0.00002854,", ",0.00002850,0.00002854,"), "high", "high below low"),
        (("0.00002854,0.00002860,0.00002854,0.00002859", "0.00002854,0.00002860,0.00002854,0.00002869"), "close", "close outside"),
        ((",1637971319999,", ",1637971200000,"), "close_time", "close time before open time"),
        ((",89196.60000000,", ",89196.6x,"), "volume", "not a number"),
        ((",0.00002859,89196", ",89196"), None, "expected 12 comma-separated fields, found 11"),
    ],
)
def test_malformed_kline_is_refused_naming_line_and_field(
    tmp_path: Path, replace: tuple[str, str], field: str | None, problem: str
) -> None:
    bad_line = KLINES.splitlines()[1].replace(*replace)
    assert bad_line != KLINES.splitlines()[1]
    path = write(tmp_path / "bad.csv", KLINES + bad_line + "\n")

    with pytest.raises(DataFormatError, match=problem) as caught:
        klines(path)
    assert (caught.value.line, caught.value.field) == (3, field)


# -- trades ----------------------------------------------------------------------------------

SPOT_TRADES = (  # id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch: no header
    "51175358,17.80180000,5.69000000,101.29224200,1583709433583,True,True\n"
    "51175359,17.80190000,1.00000000,17.80190000,1583709433590,False,True\n"
)
FUTURES_TRADES = (
    "id,price,qty,quote_qty,time,is_buyer_maker\n"
    "28457,4.00000100,12.00000000,48.00,1499865549590,true\n"
)
SPOT_AGG_TRADES = "26129,0.01633102,4.70443515,27781,27783,1498793709153,False,True\n"
FUTURES_AGG_TRADES = (
    "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
    "26129,0.01633102,4.70443515,27781,27781,1498793709153,true\n"
)


def trades(path: Path, *, aggregated: bool = False) -> np.ndarray:
    return np.concatenate(
        list(trade_chunks(path, price_precision=8, size_precision=8, aggregated=aggregated))
    )


def test_spot_trades_without_header_are_read(tmp_path: Path) -> None:
    table = trades(write(tmp_path / "t.csv", SPOT_TRADES))

    assert table[["trade_id", "price", "size", "aggressor_side"]].tolist() == [
        (51175358, 1780180000, 569000000, AggressorSide.SELLER),  # the buyer was the maker
        (51175359, 1780190000, 100000000, AggressorSide.BUYER),
    ]
    assert table["ts_event"].tolist() == [1583709433583 * MS, 1583709433590 * MS]
    assert table["ts_init"].tolist() == table["ts_event"].tolist()


def test_futures_trades_with_header_are_read(tmp_path: Path) -> None:
    table = trades(write(tmp_path / "t.csv", FUTURES_TRADES))

    assert table[["trade_id", "price", "size", "aggressor_side"]].tolist() == [
        (28457, 400000100, 1200000000, AggressorSide.SELLER)
    ]


@pytest.mark.parametrize("text", [SPOT_AGG_TRADES, FUTURES_AGG_TRADES])
def test_aggregate_trades_are_read(tmp_path: Path, text: str) -> None:
    table = trades(write(tmp_path / "a.csv", text), aggregated=True)

    assert table[["trade_id", "price", "size"]].tolist() == [(26129, 1633102, 470443515)]
    assert table["ts_event"].tolist() == [1498793709153 * MS]


def test_trade_ticks_yield_trade_ticks(tmp_path: Path) -> None:
    ticks = list(trade_ticks(write(tmp_path / "t.csv", SPOT_TRADES), "BNBUSDT.BINANCE", price_precision=8, size_precision=8))

    assert [tick.trade_id for tick in ticks] == ["51175358", "51175359"]
    assert ticks[0].price == Price("17.8018", 8) and ticks[0].aggressor_side is AggressorSide.SELLER


def test_zipped_and_gzipped_files_are_read(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as archive:
        archive.writestr("BNBUSDT-trades-2020-03.csv", SPOT_TRADES)
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(SPOT_TRADES.encode()))
    plain = trades(write(tmp_path / "t.csv", SPOT_TRADES))

    assert trades(tmp_path / "t.zip").tobytes() == plain.tobytes()
    assert trades(tmp_path / "t.csv.gz").tobytes() == plain.tobytes()


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ("51175360,17.80180000,5.69000000,101.29224200,1583709433583,Maybe,True", "is_buyer_maker", "expected one of"),
        ("51175360,17.801800001,5.69000000,101.29224200,1583709433583,True,True", "price", "more decimals"),
        ("5117536x,17.80180000,5.69000000,101.29224200,1583709433583,True,True", "id", "not a number"),
        ("51175360,17.80180000,5.69000000,101.29224200,True,True", None, "expected 7"),
    ],
)
def test_malformed_trade_row_is_refused_naming_line_and_field(
    tmp_path: Path, row: str, field: str | None, problem: str
) -> None:
    path = write(tmp_path / "bad.csv", SPOT_TRADES + row + "\n")

    with pytest.raises(DataFormatError, match=problem) as caught:
        trades(path)
    assert (caught.value.line, caught.value.field) == (3, field)


def test_trades_file_with_a_wrong_column_count_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", "1,2,3\n")

    with pytest.raises(DataFormatError, match="expected 6 or 7 comma-separated fields"):
        trades(path)


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "")

    assert list(trade_chunks(path, price_precision=2, size_precision=2)) == []
    assert list(depth_chunks(path, price_precision=2, size_precision=2)) == []
