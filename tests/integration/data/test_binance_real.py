"""Binance on real data: the reconstructed book against the venue's own bookTicker.

The captures carry both the diff-depth stream and the bookTicker stream. Binance stamps a
bookTicker with the order-book update id ``u`` it reflects, so wherever a bookTicker and a
diff share ``u``, the book rebuilt from snapshot + diffs, right after applying that diff,
must show exactly the venue's best bid and ask, prices *and* sizes. The pairs are
compared on the compiled ``zq_core.book.L2Book``.

Pair counts (determined from the files, printed by the tests):

- USD-M ``btcusdt_20240808.gz``: 66,089 bookTickers, 6,551 diffs; 629 bookTickers share
  their ``u`` with a diff. The snapshot's ``lastUpdateId`` falls inside the 5th diff, so
  the first 4 diffs are dropped (none of them has a bookTicker twin) and all 629 pairs
  are compared.
- spot ``btcusdt_20240808.gz``: 564 pairs (the 2 diffs before the 3rd, which brackets
  ``lastUpdateId + 1``, have no twin); ``btcusdt_20240809.gz`` has no snapshot: its book
  continues the 0808 book (the first diff's ``U`` is the last ``u`` of 0808 + 1), 507 pairs.
- COIN-M ``btcusd_perp_20240808.gz``: 1,125 bookTickers share a diff's ``u``; one of them
  is on a diff before the snapshot, so 1,124 are compared. USD-M ETHUSDT: 551.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from zq.data.loaders.binance import BinanceCaptureLoader, BookSyncState, GapKind, SyncPhase
from zq.data.loaders.binance_csv import depth_chunks, kline_bars, kline_chunks
from zq.model.data import BookFlags
from zq_core.book import L2Book

pytestmark = pytest.mark.realdata

LAST = np.uint8(BookFlags.LAST)
_Top = tuple[int, int, int, int]


class Replay:
    """Replay a capture onto an ``L2Book``; record the top after every diff and every bookTicker."""

    def __init__(self, book: L2Book | None = None) -> None:
        self.book = book
        self.tops: dict[int, _Top] = {}
        self.tickers: dict[int, _Top] = {}

    def run(self, loader: BinanceCaptureLoader) -> BinanceCaptureLoader:
        for chunk in loader.chunks():
            assert chunk.price_precision is not None and chunk.size_precision is not None
            if self.book is None:
                self.book = L2Book(loader.symbol or "", chunk.price_precision, chunk.size_precision)
            quotes = chunk.quotes[["bid_price", "bid_size", "ask_price", "ask_size"]].tolist()
            self.tickers.update(zip(chunk.quote_update_ids.tolist(), quotes, strict=True))
            deltas = chunk.deltas
            start = 0
            for end in np.flatnonzero(deltas["flags"] & LAST).tolist():
                self.book.apply_batch(deltas[start : end + 1])
                start = end + 1
                self.tops[int(deltas["sequence"][end])] = self._top()
            assert start == len(deltas)
        return loader

    def _top(self) -> _Top:
        book = self.book
        assert book is not None
        bid, ask = book.best_bid_raw(), book.best_ask_raw()
        bid_size, ask_size = book.best_bid_size(), book.best_ask_size()
        assert bid is not None and ask is not None and bid_size is not None and ask_size is not None
        return (bid, bid_size.raw, ask, ask_size.raw)

    def compare(self, label: str) -> int:
        """Assert the book equals the bookTicker at every shared update id; return the count."""
        paired = sorted(self.tickers.keys() & self.tops.keys())
        mismatched = [u for u in paired if self.tops[u] != self.tickers[u]]
        print(f"{label}: compared {len(paired)} book/bookTicker pairs, {len(mismatched)} differ")
        assert not mismatched, [(u, self.tops[u], self.tickers[u]) for u in mismatched[:3]]
        return len(paired)


@pytest.fixture(scope="module")
def binance(market_data: Path) -> Path:
    return market_data / "binance"


def test_usdm_book_equals_book_ticker_at_every_shared_update_id(binance: Path) -> None:
    replay = Replay()
    loader = replay.run(BinanceCaptureLoader(binance / "usdm" / "btcusdt_20240808.gz"))

    assert replay.compare("usdm btcusdt_20240808") == 629
    stats = loader.stats
    assert (stats.lines, stats.depth_updates, stats.quotes, stats.trades, stats.snapshots) == (
        93_954,
        6_551,
        66_089,
        21_313,
        1,
    )
    assert (stats.diffs_stale, stats.diffs_applied, stats.gaps, stats.diffs_unapplied) == (
        4,
        6_547,
        0,
        0,
    )
    assert (loader.price_precision, loader.size_precision) == (2, 3)
    assert replay.book is not None and not replay.book.is_crossed()
    replay.book.check_integrity()


def test_usdm_prices_load_at_the_tick_precision(binance: Path) -> None:
    # Binance writes "61800.20" for a 0.1 tick: the trailing zero is not significant.
    path = binance / "usdm" / "btcusdt_20240808.gz"
    written = np.concatenate([chunk.deltas for chunk in BinanceCaptureLoader(path).chunks()])
    ticked = np.concatenate(
        [chunk.deltas for chunk in BinanceCaptureLoader(path, price_precision=1).chunks()]
    )

    assert np.array_equal(written["price"], ticked["price"] * 10)
    assert np.array_equal(written["size"], ticked["size"])


def test_usdm_timestamps_keep_the_capture_clock_offset(binance: Path) -> None:
    chunks = list(BinanceCaptureLoader(binance / "usdm" / "btcusdt_20240808.gz").chunks())
    trades = np.concatenate([chunk.trades for chunk in chunks])

    # The capture machine's clock ran ~1.27 s behind Binance; zq reports it, never hides it.
    offset_s = float(np.median(trades["ts_event"] - trades["ts_init"])) / 1e9
    print(f"usdm btcusdt_20240808: median exchange - local time {offset_s:.3f} s")
    assert 1.2 < offset_s < 1.35


def test_spot_book_equals_book_ticker_and_continues_into_the_next_day(binance: Path) -> None:
    replay = Replay()
    first = replay.run(BinanceCaptureLoader(binance / "spot" / "btcusdt_20240808.gz"))
    assert replay.compare("spot btcusdt_20240808") == 564
    assert (first.stats.gaps, first.stats.diffs_stale, first.stats.diffs_applied) == (0, 2, 3_449)
    assert first.sync_state.in_sync

    following = Replay(replay.book)
    second = following.run(
        BinanceCaptureLoader(binance / "spot" / "btcusdt_20240809.gz", resume=first.sync_state)
    )

    assert following.compare("spot btcusdt_20240809 (book carried over)") == 507
    assert (second.stats.snapshots, second.stats.gaps, second.stats.diffs_applied) == (0, 0, 3_044)
    assert second.sync_state.in_sync and second.sync_state.update_id == 50_093_696_318


def test_spot_next_day_without_the_previous_book_never_syncs_and_says_so(
    binance: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="zq.data.loaders.binance"):
        loader = BinanceCaptureLoader(binance / "spot" / "btcusdt_20240809.gz")
        deltas = sum(len(chunk.deltas) for chunk in loader.chunks())

    assert deltas == 0
    assert loader.stats.diffs_unapplied == 3_044
    assert loader.sync_state.phase is SyncPhase.WAITING_FOR_SNAPSHOT
    assert any("ended out of sync" in record.getMessage() for record in caplog.records)


def test_spot_continuation_from_a_book_that_does_not_join_is_reported(binance: Path) -> None:
    state = BookSyncState(
        market=None, phase=SyncPhase.SYNCED, update_id=50_093_421_500, symbol="BTCUSDT"
    )
    loader = BinanceCaptureLoader(binance / "spot" / "btcusdt_20240809.gz", resume=state)
    gaps = [gap for chunk in loader.chunks() for gap in chunk.gaps]

    assert [(gap.kind, gap.line, gap.expected, gap.first_update_id) for gap in gaps] == [
        (GapKind.CONTINUITY, 1, 50_093_421_500, 50_093_421_585)
    ]
    assert loader.stats.diffs_applied == 0 and not loader.sync_state.in_sync


@pytest.mark.parametrize(
    ("capture", "pairs", "counts"),
    [
        ("cm/btcusd_perp_20240808.gz", 1_124, (26_847, 19_136, 2_286)),
        ("usdm/ethusdt_20240808.gz", 551, (6_586, 53_992, 14_076)),
    ],
)
def test_other_futures_books_equal_their_book_tickers(
    binance: Path, capture: str, pairs: int, counts: tuple[int, int, int]
) -> None:
    replay = Replay()
    loader = replay.run(BinanceCaptureLoader(binance / capture))

    assert replay.compare(capture) == pairs
    assert (loader.stats.depth_updates, loader.stats.quotes, loader.stats.trades) == counts
    assert loader.stats.gaps == 0 and loader.sync_state.in_sync


def test_t_depth_samples_load(binance: Path) -> None:
    snap = np.concatenate(
        list(
            depth_chunks(
                binance / "t-depth" / "btcusdt-depth-snap.csv", price_precision=2, size_precision=3
            )
        )
    )
    update = np.concatenate(
        list(
            depth_chunks(
                binance / "t-depth" / "btcusdt-depth-update.csv",
                price_precision=2,
                size_precision=3,
            )
        )
    )

    assert len(snap) == 101  # 100 snapshot rows after one CLEAR
    assert len(update) == 100
    book = L2Book("BTCUSDT", 2, 3)
    assert book.apply_batch(snap) == 101
    assert len(book.bids(1000)) == 100 and book.best_bid_raw() == 2_037_700
    assert np.count_nonzero(update["flags"] & LAST) == 1  # one event: last_update_id 2098041696700


def test_kline_sample_loads(binance: Path) -> None:
    path = binance / "klines" / "ADABTC-1m-2021-11-27.csv"
    bars = np.concatenate(list(kline_chunks(path, price_precision=8, size_precision=8)))
    objects = list(
        kline_bars(
            path, "ADABTC.BINANCE-1-MINUTE-LAST-EXTERNAL", price_precision=8, size_precision=8
        )
    )

    assert len(bars) == len(objects) == 10
    assert bars["ts_event"][0] == 1_637_971_260_000_000_000  # 00:01, the close of the 00:00 bar
    assert np.all(np.diff(bars["ts_event"]) == 60_000_000_000)
