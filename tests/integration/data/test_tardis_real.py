"""Tardis loaders on the real Tardis samples (see the data README, ``tardis/``)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from tests.integration.data.l2_replay import ReplayReport, replay
from zq.data.loaders import tardis
from zq.model.enums import BookAction
from zq_core.book import L2Book


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC)


def test_deribit_incremental_book_replays_its_snapshot_into_an_l2_book(market_data):
    path = market_data / "tardis" / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    deltas = np.concatenate(list(tardis.book_l2_chunks(path, 1, 0)))
    assert len(deltas) == 16  # one CLEAR, then the 15 snapshot rows
    assert deltas["action"].tolist() == [BookAction.CLEAR] + [BookAction.ADD] * 15
    book = L2Book("BTC-PERPETUAL.DERIBIT", 1, 0)
    report = replay(book, deltas, ReplayReport())
    assert (report.checks, report.crossed, report.locked) == (1, 0, 0)
    assert book.best_ask_raw() == 64215 and book.best_bid_raw() is None
    assert [(str(p), str(q)) for p, q in book.asks(2)] == [("6421.5", "18640"), ("6422.0", "1190")]
    assert len(book.asks(100)) == 15


def test_binance_futures_trades_load_exactly(market_data):
    chunks = list(
        tardis.trade_chunks(market_data / "tardis" / "tardis_trades.csv", 2, 3, chunk_size=4000)
    )
    trades = np.concatenate([chunk.trades for chunk in chunks])
    assert len(trades) == 9_999
    assert np.all(np.diff(trades["trade_id"].astype(np.int64)) == 1)  # contiguous ids
    assert np.bincount(trades["aggressor_side"]).tolist() == [0, 5_267, 4_732]
    assert _utc(int(trades["ts_event"][0])) == dt.datetime(
        2020, 2, 22, 0, 0, 2, 111000, tzinfo=dt.UTC
    )
    assert _utc(int(trades["ts_event"][-1])) == dt.datetime(
        2020, 2, 22, 2, 5, 47, 728000, tzinfo=dt.UTC
    )
    assert (trades["ts_init"] >= trades["ts_event"]).all()
    assert trades["price"][0] == 968_200 and trades["size"][0] == 132


def test_bitmex_trades_keep_their_uuid_ids(market_data):
    path = market_data / "tardis" / "bitmex_trades_XBTUSD.csv"
    ticks = list(tardis.trade_ticks(path, "XBTUSD.BITMEX", 1, 0))
    assert len(ticks) == 10
    assert ticks[0].trade_id == "ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf"
    assert len({t.trade_id for t in ticks}) == 10
    (chunk,) = tardis.trade_chunks(path, 1, 0)
    assert (chunk.trades["trade_id"] == 0).all()


def test_binance_futures_quotes_are_never_crossed(market_data):
    quotes = np.concatenate(
        list(tardis.quote_chunks(market_data / "tardis" / "tardis_quotes.csv", 2, 3))
    )
    assert len(quotes) == 9_999
    assert (quotes["bid_price"] < quotes["ask_price"]).all()
    assert _utc(int(quotes["ts_event"][0])) == dt.datetime(
        2020, 2, 22, 0, 0, 1, 96000, tzinfo=dt.UTC
    )
    assert _utc(int(quotes["ts_event"][-1])) == dt.datetime(
        2020, 2, 22, 0, 3, 47, 61000, tzinfo=dt.UTC
    )


def test_huobi_quotes_load(market_data):
    quotes = np.concatenate(
        list(tardis.quote_chunks(market_data / "tardis" / "huobi-dm-swap_quotes_BTC-USD.csv", 1, 0))
    )
    assert len(quotes) == 10
    assert quotes["bid_price"][0] == 86292 and quotes["ask_size"][0] == 5494


def test_book_snapshots_of_25_and_5_levels_agree_on_their_common_levels(market_data):
    folder = market_data / "tardis"
    (deep,) = tardis.book_snapshot_chunks(
        folder / "binance-futures_book_snapshot_25_BTCUSDT.csv", 2, 3
    )
    (top,) = tardis.book_snapshot_chunks(
        folder / "binance-futures_book_snapshot_5_BTCUSDT.csv", 2, 3
    )
    assert deep.bid_price.shape == (10, 25) and top.bid_price.shape == (10, 5)
    assert deep.bid_levels.tolist() == [25] * 10 and top.ask_levels.tolist() == [5] * 10
    assert (deep.bid_price[:, 0] < deep.ask_price[:, 0]).all()
    # Both files start with the same update: its top five levels are identical.
    assert deep.ts_event[0] == top.ts_event[0]
    for name in ("bid_price", "bid_size", "ask_price", "ask_size"):
        assert getattr(deep, name)[0, :5].tolist() == getattr(top, name)[0].tolist()
    depths = list(
        tardis.book_snapshot_depths(
            folder / "binance-futures_book_snapshot_25_BTCUSDT.csv", "BTCUSDT.BINANCE", 2, 3
        )
    )
    assert len(depths) == 10 and len(depths[0].bids) == 25
    assert str(depths[0].asks[0].price) == "11657.08" and str(depths[0].bids[0].size) == "10.896"
