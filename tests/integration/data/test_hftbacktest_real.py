"""The hftbacktest reader and writer on the real Binance USD-M BTCUSDT event file.

``binance/usdm/btcusdt_20240808.npz`` was made by hftbacktest's own converter from the raw
capture (README). It starts with depth diffs, then a REST snapshot as two ranged clears
(bids from the best down to 61653.4, asks up to 61976.2) and 2,000 snapshot levels, then
diffs and trades. The replay checks the L2 book after every message (the ``LAST`` delta of
each run of equal timestamps: one Binance depth message, or the clears plus the snapshot);
between them a message is half applied and may cross. Prices are at 0.1, sizes at 0.001.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.integration.data.l2_replay import ReplayReport, replay
from zq.data.loaders import hftbacktest as hb
from zq.model.data import BookFlags
from zq.model.enums import BookAction
from zq_core.book import L2Book

NPZ = ("binance", "usdm", "btcusdt_20240808.npz")


@pytest.fixture(scope="module")
def views(market_data):
    loaded = {}
    for view in ("local", "exchange"):
        chunks = list(hb.event_chunks(market_data.joinpath(*NPZ), 1, 3, view=view))
        loaded[view] = (
            np.concatenate([c.deltas for c in chunks]),
            np.concatenate([c.trades for c in chunks]),
        )
    return loaded


def test_the_file_holds_491973_events_of_the_kinds_the_readme_counts(market_data):
    events = np.concatenate(list(hb.read_events(market_data.joinpath(*NPZ))))
    assert len(events) == 491_973
    kinds = dict(zip(*np.unique(events["ev"] & 0xFF, return_counts=True), strict=True))
    assert kinds == {1: 466_493, 2: 21_476, 3: 4, 4: 4_000}
    first, last = (
        dt.datetime.fromtimestamp(int(t) / 1e9, tz=dt.UTC)
        for t in (events["exch_ts"].min(), events["exch_ts"].max())
    )
    assert first.isoformat(timespec="milliseconds") == "2024-08-08T23:54:16.298+00:00"
    assert last.isoformat(timespec="milliseconds") == "2024-08-09T00:00:01.054+00:00"


def test_each_view_sees_every_trade_once(views):
    for deltas, trades in views.values():
        assert len(trades) == 21_313  # 21,476 rows: 163 trades are split in two
        assert int((deltas["flags"] & BookFlags.SNAPSHOT).astype(bool).sum()) == 2_000
        assert int((deltas["flags"] & BookFlags.LAST).astype(bool).sum()) == 6_552
    assert len(views["local"][0]) == 445_701
    assert len(views["exchange"][0]) == 445_676


@pytest.mark.parametrize("view", ["local", "exchange"])
def test_the_book_replays_and_is_never_crossed_after_a_message(views, view):
    deltas, _ = views[view]
    book = L2Book("BTCUSDT-PERP.BINANCE", 1, 3)
    report = replay(book, deltas, ReplayReport())
    assert report.checks == 6_552  # 6,551 depth messages and the snapshot
    assert (report.crossed, report.locked) == (0, 0)
    assert len(book.bids(10_000)) == 5_019 and len(book.asks(10_000)) == 4_578


def test_the_snapshot_clears_only_the_levels_within_its_range(views):
    deltas, _ = views["local"]
    cleared = deltas[
        (deltas["action"] == BookAction.DELETE) & (deltas["ts_init"] == 1723161256591859417)
    ]
    bids, asks = cleared[cleared["side"] == 1], cleared[cleared["side"] == 2]
    assert bids["price"].min() >= 616_534 and asks["price"].max() <= 619_762


def test_the_local_view_round_trips_through_a_written_npz(views, tmp_path):
    deltas, trades = views["local"]
    path = tmp_path / "back.npz"
    hb.write_npz(path, deltas, trades, price_precision=1, size_precision=3)
    chunks = list(hb.event_chunks(path, 1, 3))
    assert np.concatenate([c.deltas for c in chunks]).tobytes() == deltas.tobytes()
    assert np.concatenate([c.trades for c in chunks]).tobytes() == trades.tobytes()
