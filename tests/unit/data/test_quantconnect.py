"""QuantConnect LEAN tick loaders on small zips written in the test, malformed ones included."""

from __future__ import annotations

import datetime as dt
import re
import zipfile

import numpy as np
import pytest

from zq.data.errors import DataFormatError
from zq.data.loaders import quantconnect as qc
from zq.model.enums import AggressorSide
from zq.model.identifiers import TradeId

DAY_ONE = (
    "14400464,1674100,100,P,20002000,0\n"
    "34200000,1674150,5,Q,2000,1\n"  # 09:30:00.000 ET, suspicious, a sub-penny price
    "71999536,1673000,100,K,2000,0"  # no newline at the end, as LEAN writes them
)


def _zip(tmp_path, name, member, text):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, text)
    return path


def _ns(*args):
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1_000_000) * 1000


def test_equity_trades_convert_new_york_wall_time_to_utc_and_deci_cents_to_the_precision(tmp_path):
    path = _zip(tmp_path, "20131007_trade.zip", "20131007_spy_Trade_Tick.csv", DAY_ONE)
    (chunk,) = qc.trade_chunks(path, 4, include_suspicious=True)
    trades = chunk.trades
    assert trades["ts_event"].tolist() == [
        _ns(2013, 10, 7, 8, 0, 0, 464000),  # 04:00:00.464 EDT
        _ns(2013, 10, 7, 13, 30),
        _ns(2013, 10, 7, 23, 59, 59, 536000),
    ]
    assert (trades["ts_init"] == trades["ts_event"]).all()
    assert trades["price"].tolist() == [1674100, 1674150, 1673000]
    assert trades["size"].tolist() == [100, 5, 100]
    assert (trades["aggressor_side"] == AggressorSide.NO_AGGRESSOR).all()
    assert chunk.exchange.tolist() == [b"P", b"Q", b"K"]
    assert chunk.conditions.tolist() == [0x20002000, 0x2000, 0x2000]
    assert chunk.suspicious.tolist() == [False, True, False]
    assert chunk.lines.tolist() == [1, 2, 3]
    assert chunk.suspicious_dropped == 0


def test_suspicious_trades_are_left_out_by_default_and_counted(tmp_path):
    path = _zip(tmp_path, "20131007_trade.zip", "a.csv", DAY_ONE)
    (chunk,) = qc.trade_chunks(path, 4)
    assert chunk.suspicious_dropped == 1
    assert chunk.lines.tolist() == [1, 3]
    assert not chunk.suspicious.any()


def test_winter_dates_are_five_hours_behind_utc(tmp_path):
    path = _zip(tmp_path, "20131202_trade.zip", "a.csv", "34200000,1674100,1,P,0,0\n")
    (chunk,) = qc.trade_chunks(path, 2)
    assert chunk.trades["ts_event"].tolist() == [_ns(2013, 12, 2, 14, 30)]
    assert chunk.trades["price"].tolist() == [16741]


def test_a_sub_penny_price_is_refused_at_two_decimals(tmp_path):
    path = _zip(tmp_path, "20131007_trade.zip", "a.csv", DAY_ONE)
    with pytest.raises(
        DataFormatError, match=re.escape("more decimals than the precision (2)")
    ) as caught:
        list(qc.trade_chunks(path, 2, include_suspicious=True))
    assert (caught.value.line, caught.value.field, caught.value.value) == (2, "price", "1674150")


def test_trade_ticks_get_ids_from_date_and_line(tmp_path):
    path = _zip(tmp_path, "20131007_trade.zip", "a.csv", DAY_ONE)
    ticks = list(qc.trade_ticks(path, "SPY.ARCA", 4))
    assert [t.trade_id for t in ticks] == [TradeId("20131007-1"), TradeId("20131007-3")]
    assert str(ticks[0].price) == "167.4100"


@pytest.mark.parametrize(
    ("line", "field", "problem"),
    [
        ("90000000,1674100,100,P,0,0", "time", "beyond a day"),
        ("x,1674100,100,P,0,0", "time", "not a number"),
        ("1,1674100,-100,P,0,0", "size", "negative value"),
        ("1,1674100,100,P,zz,0", "conditions", "not a hexadecimal number"),
        ("1,1674100,100,P,0,2", "suspicious", "expected one of"),
    ],
)
def test_malformed_trade_rows_are_refused_naming_line_and_field(tmp_path, line, field, problem):
    path = _zip(tmp_path, "20131007_trade.zip", "a.csv", "1,1674100,100,P,0,0\n" + line + "\n")
    with pytest.raises(DataFormatError, match=problem) as caught:
        list(qc.trade_chunks(path, 4))
    assert (caught.value.line, caught.value.field) == (2, field)


def test_a_file_without_a_date_in_its_name_needs_one(tmp_path):
    path = _zip(tmp_path, "trades.zip", "trades.csv", "1,1674100,100,P,0,0\n")
    with pytest.raises(DataFormatError, match="no date in the file name"):
        list(qc.trade_chunks(path, 4))
    (chunk,) = qc.trade_chunks(path, 4, date=dt.date(2013, 10, 7))
    assert chunk.trades["ts_event"][0] == _ns(2013, 10, 7, 4, 0, 0, 1000)


QUOTES = "17007,1.39147,1.39148\r\n17264,1.39150,1.39150\r\n17906,1.39151,1.39149\r\n"


def test_fx_quotes_use_the_fixed_fxcm_offset_and_count_locked_and_crossed_rows(tmp_path):
    path = _zip(tmp_path, "20140508_quote.zip", "20140508_eurusd_tick_quote.csv", QUOTES)
    (chunk,) = qc.quote_chunks(path, 5)
    quotes = chunk.quotes
    assert quotes["ts_event"][0] == _ns(2014, 5, 8, 5, 0, 17, 7000)  # 00:00:17.007 at UTC-5
    assert quotes["bid_price"].tolist() == [139147, 139150, 139151]
    assert quotes["ask_price"].tolist() == [139148, 139150, 139149]
    assert (quotes["bid_size"] == 0).all() and (quotes["ask_size"] == 0).all()
    assert (chunk.locked, chunk.crossed) == (1, 1)
    ticks = list(qc.quote_ticks(path, "EUR/USD.FXCM", 5))
    assert str(ticks[2].bid_price) == "1.39151"


def test_a_quote_with_a_missing_ask_is_refused(tmp_path):
    path = _zip(tmp_path, "20140508_quote.zip", "q.csv", "17007,1.39147\n")
    with pytest.raises(DataFormatError, match="line 1: expected 3 comma-separated fields, found 2"):
        list(qc.quote_chunks(path, 5))


def test_chunks_cover_the_file_in_order(tmp_path):
    text = "".join(f"{i},1674100,1,P,0,0\n" for i in range(10))
    path = _zip(tmp_path, "20131007_trade.zip", "a.csv", text)
    chunks = list(qc.trade_chunks(path, 4, chunk_size=3))
    assert [len(c.trades) for c in chunks] == [3, 3, 3, 1]
    assert np.concatenate([c.lines for c in chunks]).tolist() == list(range(1, 11))
