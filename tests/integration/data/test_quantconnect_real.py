"""QuantConnect LEAN loaders on the real SPY trade ticks and EURUSD (FXCM) quote ticks."""

from __future__ import annotations

import datetime as dt
import tracemalloc

import numpy as np
import pytest

from zq.data.loaders import quantconnect as qc

DAYS = {
    "20131007": 250_601,
    "20131008": 451_545,
    "20131009": 439_677,
    "20131010": 460_032,
    "20131011": 285_605,
}


def _utc(ns: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)


@pytest.fixture(scope="module")
def spy(market_data):
    """Every day's trades, suspicious ones included, loaded once for the module."""
    loaded = {}
    for day in DAYS:
        chunks = list(
            qc.trade_chunks(
                market_data / "quantconnect" / "spy" / f"{day}_trade.zip",
                2,
                include_suspicious=True,
            )
        )
        loaded[day] = (
            np.concatenate([c.trades for c in chunks]),
            np.concatenate([c.suspicious for c in chunks]),
            np.concatenate([c.exchange for c in chunks]),
        )
    return loaded


def test_every_spy_day_has_its_exact_trade_count_and_five_days_hold_1887460(spy):
    assert {day: len(trades) for day, (trades, _, _) in spy.items()} == DAYS
    assert sum(len(trades) for trades, _, _ in spy.values()) == 1_887_460


def test_only_2013_10_10_has_suspicious_trades_and_they_are_left_out_by_default(spy, market_data):
    assert {day: int(flags.sum()) for day, (_, flags, _) in spy.items()} == {
        "20131007": 0,
        "20131008": 0,
        "20131009": 0,
        "20131010": 10,
        "20131011": 0,
    }
    chunks = list(qc.trade_chunks(market_data / "quantconnect" / "spy" / "20131010_trade.zip", 2))
    assert sum(c.suspicious_dropped for c in chunks) == 10
    assert sum(len(c.trades) for c in chunks) == 460_022


def test_first_day_times_are_new_york_daylight_time_converted_to_utc(spy):
    trades, _, exchange = spy["20131007"]
    assert _utc(int(trades["ts_event"][0])) == dt.datetime(
        2013, 10, 7, 8, 0, 0, 464000, tzinfo=dt.UTC
    )
    assert _utc(int(trades["ts_event"][-1])) == dt.datetime(
        2013, 10, 7, 23, 59, 59, 536000, tzinfo=dt.UTC
    )
    assert (np.diff(trades["ts_event"]) >= 0).all()
    open_, close = (
        int(dt.datetime(2013, 10, 7, h, m, tzinfo=dt.UTC).timestamp()) * 10**9
        for h, m in ((13, 30), (20, 0))
    )
    assert int(((trades["ts_event"] >= open_) & (trades["ts_event"] < close)).sum()) == 241_504
    assert int(trades["size"].sum()) == 97_062_721
    assert trades["price"][0] == 16741  # 1674100 deci-cents is $167.41
    counts = dict(zip(*np.unique(exchange, return_counts=True), strict=True))
    assert (counts[b"Q"], counts[b"P"], counts[b"Z"], counts[b"D"]) == (
        56_049,
        53_805,
        41_823,
        35_057,
    )


def _peak_memory(path, chunk_size):
    tracemalloc.start()
    try:
        rows = sum(len(c.trades) for c in qc.trade_chunks(path, 2, chunk_size=chunk_size))
        return rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_follows_the_chunk_size_not_the_file_size(market_data):
    folder = market_data / "quantconnect" / "spy"
    small_rows, small_peak = _peak_memory(folder / "20131007_trade.zip", 20_000)
    large_rows, large_peak = _peak_memory(folder / "20131010_trade.zip", 20_000)
    assert (small_rows, large_rows) == (250_601, 460_022)
    # 1.8 times the rows, about the same peak; the large day's arrays alone take 22 MB.
    assert large_peak < 1.25 * small_peak
    assert large_peak < 12_000_000


def test_eurusd_quotes_load_with_their_locked_and_crossed_rows_counted(market_data):
    chunks = list(
        qc.quote_chunks(market_data / "quantconnect" / "eurusd-fxcm" / "20140508_quote.zip", 5)
    )
    quotes = np.concatenate([c.quotes for c in chunks])
    assert len(quotes) == 167_466
    locked, crossed = sum(c.locked for c in chunks), sum(c.crossed for c in chunks)
    assert (locked, crossed) == (19_051, 18_285)  # 11.4 % and 10.9 %, as the README says
    assert int((quotes["ask_price"] - quotes["bid_price"]).min()) == -22  # 22 points of 1e-5
    # 00:00:17.007 at the fixed UTC-05:00 of FXCM data.
    assert _utc(int(quotes["ts_event"][0])) == dt.datetime(
        2014, 5, 8, 5, 0, 17, 7000, tzinfo=dt.UTC
    )
    assert _utc(int(quotes["ts_event"][-1])).date() == dt.date(2014, 5, 9)
    assert quotes["bid_price"][0] == 139147 and quotes["ask_price"][0] == 139148
