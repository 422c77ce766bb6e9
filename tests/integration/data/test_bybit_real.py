"""The Bybit loader on the real XRPUSDT ``orderbook.500`` capture (1 snapshot, 49 deltas)."""

from __future__ import annotations

import numpy as np

from tests.integration.data.l2_replay import ReplayReport, replay
from zq.data.loaders import bybit
from zq.model.data import BookFlags
from zq.model.enums import BookAction
from zq_core.book import L2Book

ZIP = ("bybit", "xrpusdt-ob500.data.zip")


def test_the_capture_replays_into_an_l2_book_that_is_never_crossed(market_data):
    chunks = list(bybit.book_delta_chunks(market_data.joinpath(*ZIP), 4, 0, chunk_size=10))
    deltas = np.concatenate(chunks)
    messages = np.unique(deltas["sequence"])
    assert len(messages) == 50 and messages[0] == 20_254_869 and messages[-1] == 20_254_918
    snapshot = (deltas["flags"] & BookFlags.SNAPSHOT).astype(bool)
    assert int((deltas["action"] == BookAction.CLEAR).sum()) == 1
    assert int(snapshot.sum()) == 1_001  # CLEAR and 500 levels a side
    assert len(deltas) == 3_967
    book = L2Book("XRPUSDT-LINEAR.BYBIT", 4, 0)
    report = replay(book, deltas, ReplayReport())
    assert report.checks == 50
    assert (report.crossed, report.locked) == (0, 0)
    assert (book.best_bid_raw(), book.best_ask_raw()) == (19_537, 19_538)
    assert (str(book.best_bid_size()), str(book.best_ask_size())) == ("10605", "6702")
    assert deltas["ts_init"][0] == 1_733_011_200_691_000_000  # 2024-12-01 00:00:00.691
    assert deltas["ts_init"][-1] == 1_733_011_205_490_000_000  # 00:00:05.490
