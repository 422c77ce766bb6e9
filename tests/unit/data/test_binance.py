"""Binance raw stream captures: parsing, Binance's book-sync rules, gaps and malformed input.

Captures are built here, line by line, in the collector's format (``<local ns> <json>``);
a small pure-Python book (the oracle) replays the deltas.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zq.data.errors import DataFormatError
from zq.data.loaders._binance_decimal import Tokens
from zq.data.loaders.binance import (
    BinanceCaptureChunk,
    BinanceCaptureLoader,
    BinanceMarket,
    BookSyncState,
    GapKind,
    SyncGap,
    SyncPhase,
    decimal_to_raw,
)
from zq.model.data import BookFlags, OrderBookDelta, TradeTick
from zq.model.enums import AggressorSide, BookAction, OrderSide
from zq_core.fixed import Price

LAST, SNAPSHOT, BAD = int(BookFlags.LAST), int(BookFlags.SNAPSHOT), int(BookFlags.MAYBE_BAD_BOOK)
T0 = 1_723_161_255_000_000_000  # local ns
E0 = 1_723_161_256_270  # exchange ms (the local clock is ~1.27 s behind)


# -- building captures -----------------------------------------------------------------------


def depth(
    first: int,
    final: int,
    previous: int | None = None,
    bids: list[list[str]] | None = None,
    asks: list[list[str]] | None = None,
    *,
    symbol: str = "BTCUSDT",
    event_ms: int = E0,
    stream: str = "btcusdt@depth@0ms",
) -> dict[str, Any]:
    data: dict[str, Any] = {"e": "depthUpdate", "E": event_ms, "s": symbol, "U": first, "u": final}
    if previous is not None:
        data["T"] = event_ms - 1
        data["pu"] = previous
    data["b"] = bids if bids is not None else []
    data["a"] = asks if asks is not None else []
    return {"stream": stream, "data": data}


def snapshot(
    update_id: int, bids: list[list[str]], asks: list[list[str]], *, event_ms: int | None = E0
) -> dict[str, Any]:
    message: dict[str, Any] = {"lastUpdateId": update_id}
    if event_ms is not None:
        message |= {"E": event_ms, "T": event_ms - 2}
    return message | {"bids": bids, "asks": asks}


def book_ticker(
    update_id: int, bid: str, bid_size: str, ask: str, ask_size: str, *, event_ms: int | None = E0
) -> dict[str, Any]:
    data: dict[str, Any] = {"e": "bookTicker", "u": update_id, "s": "BTCUSDT"}
    data |= {"b": bid, "B": bid_size, "a": ask, "A": ask_size}
    if event_ms is not None:
        data |= {"T": event_ms - 1, "E": event_ms}
    return {"stream": "btcusdt@bookTicker", "data": data}


def trade(trade_id: int, price: str, size: str, buyer_is_maker: bool) -> dict[str, Any]:
    data = {"e": "trade", "E": E0 + 5, "T": E0 + 4, "s": "BTCUSDT", "t": trade_id}
    data |= {"p": price, "q": size, "X": "MARKET", "m": buyer_is_maker}
    return {"stream": "btcusdt@trade", "data": data}


def write_capture(
    path: Path, messages: list[dict[str, Any] | str], *, compress: bool = True
) -> Path:
    """Write one line per message, 1 ms apart; a str is written as the whole line."""
    lines = []
    for index, message in enumerate(messages):
        if isinstance(message, str):
            lines.append(message)
        else:
            lines.append(f"{T0 + index * 1_000_000} {json.dumps(message, separators=(',', ':'))}")
    text = "\n".join(lines) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def load(path: Path, **options: Any) -> tuple[list[BinanceCaptureChunk], BinanceCaptureLoader]:
    loader = BinanceCaptureLoader(path, **options)
    return list(loader.chunks()), loader


def joined(chunks: list[BinanceCaptureChunk], name: str) -> np.ndarray:
    arrays = [getattr(chunk, name) for chunk in chunks]
    return np.concatenate(arrays) if arrays else np.zeros(0)


def gaps(chunks: list[BinanceCaptureChunk]) -> list[SyncGap]:
    return [gap for chunk in chunks for gap in chunk.gaps]


class ReferenceBook:
    """The oracle: price levels in dicts, top of book recorded after each venue event."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.tops: dict[int, tuple[int, int, int, int]] = {}

    def apply(self, deltas: np.ndarray) -> None:
        for _, _, price, size, _, sequence, action, side, flags, _ in deltas.tolist():
            if action == BookAction.CLEAR:
                self.bids.clear()
                self.asks.clear()
            else:
                levels = self.bids if side == OrderSide.BUY else self.asks
                assert action in (BookAction.ADD, BookAction.UPDATE, BookAction.DELETE)
                if action == BookAction.DELETE or size == 0:
                    levels.pop(price, None)
                else:
                    levels[price] = size
            if flags & LAST and action != BookAction.CLEAR and self.bids and self.asks:
                best_bid, best_ask = max(self.bids), min(self.asks)
                self.tops[sequence] = (
                    best_bid,
                    self.bids[best_bid],
                    best_ask,
                    self.asks[best_ask],
                )


def rows(deltas: np.ndarray) -> list[tuple[int, int, int, int, int, int]]:
    """(action, side, price, size, sequence, flags) of each delta."""
    return [
        (int(r["action"]), int(r["side"]), int(r["price"]), int(r["size"]), int(r["sequence"]), int(r["flags"]))
        for r in deltas
    ]


BIDS = [["100.0", "1.000"], ["99.5", "2.000"]]
ASKS = [["100.5", "1.500"], ["101.0", "3.000"]]
SNAPSHOT_ROWS = [
    (BookAction.CLEAR, 0, 0, 0, 10, SNAPSHOT),
    (BookAction.ADD, OrderSide.BUY, 1000, 1000, 10, SNAPSHOT),
    (BookAction.ADD, OrderSide.BUY, 995, 2000, 10, SNAPSHOT),
    (BookAction.ADD, OrderSide.SELL, 1005, 1500, 10, SNAPSHOT),
    (BookAction.ADD, OrderSide.SELL, 1010, 3000, 10, SNAPSHOT | LAST),
]


# -- decimals --------------------------------------------------------------------------------


def test_decimal_to_raw_scales_to_the_precision() -> None:
    assert decimal_to_raw("61800.20", 2) == 6_180_020
    assert decimal_to_raw("0.014", 5) == 1_400
    assert decimal_to_raw("7", 3) == 7_000


def test_decimal_to_raw_accepts_trailing_zeros_beyond_the_precision() -> None:
    assert decimal_to_raw("61800.20", 1) == 618_002
    assert decimal_to_raw("61837.63000000", 2) == 6_183_763


def test_decimal_to_raw_refuses_significant_decimals_beyond_the_precision() -> None:
    with pytest.raises(ValueError, match="more than 1 decimals"):
        decimal_to_raw("61800.25", 1)


@pytest.mark.parametrize("text", ["", "-1", "+1", "1e5", ".5", "5.", "1.2.3", " 1", "1_0", "٣"])
def test_decimal_to_raw_refuses_anything_but_plain_digits(text: str) -> None:
    with pytest.raises(ValueError, match="not a non-negative decimal"):
        decimal_to_raw(text, 2)


def test_decimal_to_raw_refuses_values_beyond_int64() -> None:
    with pytest.raises(ValueError, match="does not fit in int64"):
        decimal_to_raw("92233720368547758.08", 2)


_DECIMAL_TEXT = st.one_of(
    st.from_regex(r"[0-9]{1,20}(\.[0-9]{1,12})?", fullmatch=True),
    st.from_regex(r"[0-9.]{0,6}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_DECIMAL_TEXT, min_size=1, max_size=12), precisions=st.tuples(st.integers(0, 9), st.integers(0, 9)))
def test_bulk_decimal_parse_agrees_with_the_exact_parser(
    texts: list[str], precisions: tuple[int, int]
) -> None:
    buf = "".join(f'"{text}"' for text in texts).encode()
    expected: list[int] = []
    failure: int | None = None
    for index, text in enumerate(texts):
        try:
            expected.append(decimal_to_raw(text, precisions[index % 2]))
        except ValueError:
            failure = index
            break
    try:
        values = Tokens(buf).scale(precisions)
    except ValueError as error:
        assert failure is not None, (texts, error)
        assert getattr(error, "index", None) == failure
    else:
        assert failure is None
        assert values.tolist() == expected


# -- messages --------------------------------------------------------------------------------


def futures_capture(tmp_path: Path) -> Path:
    return write_capture(
        tmp_path / "usdm.gz",
        [
            depth(5, 8, 4, [["100.0", "0.500"]]),  # older than the snapshot: dropped
            book_ticker(9, "100.0", "1.000", "100.5", "1.500"),
            depth(9, 12, 8, [["100.0", "0.000"], ["99.0", "4.000"]], [["100.5", "1.250"]]),
            snapshot(10, BIDS, ASKS),
            trade(77, "100.5", "0.250", buyer_is_maker=False),
            trade(78, "99.5", "0.100", buyer_is_maker=True),
            book_ticker(12, "99.5", "2.000", "100.5", "1.250"),
            depth(13, 15, 12, [], [["100.5", "0"], ["100.7", "0.100"]]),
            book_ticker(15, "99.5", "2.000", "100.7", "0.100"),
        ],
    )


def test_capture_becomes_deltas_quotes_and_trades(tmp_path: Path) -> None:
    chunks, loader = load(futures_capture(tmp_path))

    deltas = joined(chunks, "deltas")
    assert rows(deltas) == [
        *SNAPSHOT_ROWS,
        (BookAction.DELETE, OrderSide.BUY, 1000, 0, 12, 0),
        (BookAction.UPDATE, OrderSide.BUY, 990, 4000, 12, 0),
        (BookAction.UPDATE, OrderSide.SELL, 1005, 1250, 12, LAST),
        (BookAction.DELETE, OrderSide.SELL, 1005, 0, 15, 0),
        (BookAction.UPDATE, OrderSide.SELL, 1007, 100, 15, LAST),
    ]
    quotes = joined(chunks, "quotes")
    assert quotes[["bid_price", "ask_price", "bid_size", "ask_size"]].tolist() == [
        (1000, 1005, 1000, 1500),
        (995, 1005, 2000, 1250),
        (995, 1007, 2000, 100),
    ]
    trades = joined(chunks, "trades")
    assert trades[["price", "size", "trade_id", "aggressor_side"]].tolist() == [
        (1005, 250, 77, AggressorSide.BUYER),
        (995, 100, 78, AggressorSide.SELLER),  # the buyer was the maker: the seller crossed
    ]
    assert (loader.market, loader.symbol) == (BinanceMarket.USDM, "BTCUSDT")
    assert (loader.price_precision, loader.size_precision) == (1, 3)


def test_book_ticker_update_ids_are_kept_beside_the_quotes(tmp_path: Path) -> None:
    chunks, _ = load(futures_capture(tmp_path))

    assert joined(chunks, "quote_update_ids").tolist() == [9, 12, 15]
    assert joined(chunks, "quote_update_ids").dtype == np.uint64


def test_replayed_book_equals_the_book_ticker_with_the_same_update_id(tmp_path: Path) -> None:
    chunks, _ = load(futures_capture(tmp_path))
    book = ReferenceBook()
    for chunk in chunks:
        book.apply(chunk.deltas)
    quotes = joined(chunks, "quotes")
    tickers = {
        int(u): (q["bid_price"], q["bid_size"], q["ask_price"], q["ask_size"])
        for u, q in zip(joined(chunks, "quote_update_ids"), quotes, strict=True)
    }

    paired = sorted(set(tickers) & set(book.tops))
    assert paired == [12, 15]
    assert all(book.tops[u] == tickers[u] for u in paired)


def test_timestamps_come_from_the_exchange_and_the_capture_clock(tmp_path: Path) -> None:
    chunks, _ = load(futures_capture(tmp_path))
    deltas, trades, quotes = (joined(chunks, name) for name in ("deltas", "trades", "quotes"))

    # ts_event: T (transaction time) in ns; ts_init: the capture's local time, not adjusted.
    assert deltas["ts_event"][-1] == (E0 - 1) * 1_000_000
    assert deltas["ts_init"][-1] == T0 + 7 * 1_000_000
    assert trades["ts_event"].tolist() == [(E0 + 4) * 1_000_000] * 2
    assert trades["ts_init"].tolist() == [T0 + 4_000_000, T0 + 5_000_000]
    assert quotes["ts_event"][0] == (E0 - 1) * 1_000_000
    assert quotes["ts_init"][0] == T0 + 1_000_000


def test_buffered_diffs_carry_the_snapshot_arrival_as_ts_init(tmp_path: Path) -> None:
    chunks, _ = load(futures_capture(tmp_path))
    deltas = joined(chunks, "deltas")

    # The diff u=12 arrived at line 3 but could only be applied when the snapshot came.
    replayed = deltas[deltas["sequence"] == 12]
    assert set(replayed["ts_init"].tolist()) == {T0 + 3 * 1_000_000}
    assert np.all(np.diff(deltas["ts_init"]) >= 0)


def test_spot_book_ticker_without_exchange_time_is_stamped_with_the_capture_time(
    tmp_path: Path,
) -> None:
    path = write_capture(
        tmp_path / "spot.gz",
        [book_ticker(3, "100.00", "1.00", "100.01", "2.00", event_ms=None)],
    )
    chunks, _ = load(path)

    quotes = joined(chunks, "quotes")
    assert quotes["ts_event"].tolist() == quotes["ts_init"].tolist() == [T0]


def test_objects_are_zq_data_merged_by_ts_init(tmp_path: Path) -> None:
    loader = BinanceCaptureLoader(futures_capture(tmp_path))
    items = list(loader.objects("BTCUSDT-PERP.BINANCE"))

    assert [type(item).__name__ for item in items] == [
        "QuoteTick",  # line 2
        *["OrderBookDelta"] * 8,  # line 4: the snapshot, then the buffered diff of line 3
        "TradeTick",
        "TradeTick",
        "QuoteTick",
        *["OrderBookDelta"] * 2,
        "QuoteTick",
    ]
    assert isinstance(items[1], OrderBookDelta) and items[1].action is BookAction.CLEAR
    trades = [item for item in items if isinstance(item, TradeTick)]
    assert trades[1].price == Price("99.5", 1) and trades[1].aggressor_side is AggressorSide.SELLER
    assert [item.ts_init for item in items] == sorted(item.ts_init for item in items)


def test_market_is_read_from_the_diffs(tmp_path: Path) -> None:
    coin = depth(1, 2, 0, symbol="BTCUSD_PERP", stream="btcusd_perp@depth@0ms")
    coin["data"]["ps"] = "BTCUSD"  # COIN-M diffs name the pair

    assert load(write_capture(tmp_path / "s.gz", [depth(1, 2)]))[1].market is BinanceMarket.SPOT
    assert load(write_capture(tmp_path / "u.gz", [depth(1, 2, 0)]))[1].market is BinanceMarket.USDM
    assert load(write_capture(tmp_path / "c.gz", [coin]))[1].market is BinanceMarket.COINM


def test_agg_trade_stream_is_read_as_trades(tmp_path: Path) -> None:
    data = {"e": "aggTrade", "E": E0, "s": "BTCUSDT", "a": 5, "p": "1.5", "q": "2", "f": 1, "l": 3, "T": E0, "m": True}
    path = write_capture(tmp_path / "agg.gz", [{"stream": "btcusdt@aggTrade", "data": data}])
    trades = joined(load(path)[0], "trades")

    assert trades[["trade_id", "price", "size", "aggressor_side"]].tolist() == [(5, 15, 2, 2)]


def test_other_streams_and_subscription_replies_are_ignored(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "other.gz",
        [
            {"result": None, "id": 1},
            {"stream": "btcusdt@depth20@100ms", "data": {"lastUpdateId": 1, "bids": [], "asks": []}},
            {"stream": "btcusdt@markPrice", "data": {"e": "markPriceUpdate", "p": "1"}},
            trade(1, "1.0", "1.0", True),
        ],
    )
    chunks, loader = load(path)

    assert loader.stats.ignored_messages == 3
    assert len(joined(chunks, "trades")) == 1


def test_unwrapped_single_stream_messages_are_read(tmp_path: Path) -> None:
    ticker = book_ticker(7, "1.0", "2.0", "1.5", "3.0", event_ms=None)["data"]
    del ticker["e"]  # spot bookTicker has no event type
    path = write_capture(
        tmp_path / "raw.gz", [depth(1, 2)["data"], ticker, trade(3, "1.0", "1.0", False)["data"]]
    )
    chunks, loader = load(path)

    assert (loader.stats.depth_updates, loader.stats.quotes, loader.stats.trades) == (1, 1, 1)
    assert joined(chunks, "quote_update_ids").tolist() == [7]


def test_json_that_is_not_compact_is_read_the_same(tmp_path: Path) -> None:
    messages = [snapshot(10, BIDS, ASKS), depth(9, 12, 8, [["99.0", "1.000"]]), book_ticker(12, "100.0", "1.000", "100.5", "1.500")]
    compact = write_capture(tmp_path / "compact.gz", messages)
    spaced = [f"{T0 + i * 1_000_000} {json.dumps(m, indent=1)}".replace("\n", " ") for i, m in enumerate(messages)]
    spaced[2] = spaced[2].replace('"100.5"', '"\\u0031\\u0030\\u0030.5"')  # "100.5", escaped
    loose = write_capture(tmp_path / "loose.gz", spaced)

    expected, _ = load(compact)
    chunks, _ = load(loose)
    for name in ("deltas", "quotes", "quote_update_ids"):
        assert joined(chunks, name).tobytes() == joined(expected, name).tobytes()


def test_plain_text_capture_is_read(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "plain.txt", [trade(1, "1.0", "1.0", False)], compress=False)

    assert len(joined(load(path)[0], "trades")) == 1


def test_precisions_are_inferred_from_the_decimals_written(tmp_path: Path) -> None:
    _, loader = load(futures_capture(tmp_path))

    assert (loader.price_precision, loader.size_precision) == (1, 3)
    assert loader.sync_state.price_precision == 1


def test_explicit_precision_accepts_trailing_zeros(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "t.gz", [trade(1, "61800.20", "0.010", False)])
    trades = joined(load(path, price_precision=1, size_precision=2)[0], "trades")

    assert trades[["price", "size"]].tolist() == [(618_002, 1)]


def test_value_needing_more_decimals_than_the_precision_is_refused(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "t.gz", [trade(1, "61800.25", "0.010", False)])

    with pytest.raises(DataFormatError, match="more than 1 decimals") as caught:
        load(path, price_precision=1)
    assert (caught.value.line, caught.value.field, caught.value.value) == (1, "p", "61800.25")


def test_precision_outside_zero_to_nine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"price_precision must be an int in 0\.\.9"):
        BinanceCaptureLoader(tmp_path / "x.gz", price_precision=10)


# -- sync: Binance's rules -------------------------------------------------------------------


def test_diffs_before_the_snapshot_are_buffered_and_stale_ones_dropped(tmp_path: Path) -> None:
    chunks, loader = load(futures_capture(tmp_path))

    assert loader.stats.diffs_stale == 1  # u=8 < lastUpdateId=10
    assert loader.stats.diffs_applied == 2
    assert loader.stats.snapshots_applied == 1
    assert gaps(chunks) == []
    assert loader.sync_state == BookSyncState(BinanceMarket.USDM, SyncPhase.SYNCED, 15, "BTCUSDT", 1, 3)


def test_futures_diff_ending_at_last_update_id_brackets_the_snapshot(tmp_path: Path) -> None:
    # U <= lastUpdateId <= u with u == lastUpdateId: applied (u < lastUpdateId is stale).
    path = write_capture(
        tmp_path / "f.gz", [depth(8, 10, 7, [["99.0", "1.000"]]), snapshot(10, BIDS, ASKS)]
    )
    chunks, loader = load(path)

    assert loader.stats.diffs_applied == 1 and gaps(chunks) == []


def test_spot_diff_ending_at_last_update_id_is_stale(tmp_path: Path) -> None:
    # Spot: drop u <= lastUpdateId; the first diff must satisfy U <= lastUpdateId + 1 <= u.
    path = write_capture(
        tmp_path / "s.gz",
        [depth(8, 10, bids=[["99.0", "1.000"]]), depth(11, 13, bids=[["98.0", "1.000"]]), snapshot(10, BIDS, ASKS, event_ms=None)],
    )
    chunks, loader = load(path)

    assert (loader.stats.diffs_stale, loader.stats.diffs_applied) == (1, 1)
    assert joined(chunks, "deltas")["sequence"].tolist()[-1] == 13
    assert gaps(chunks) == []


def test_snapshot_arriving_first_waits_for_a_bridging_diff(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "early.gz",
        [
            snapshot(10, BIDS, ASKS),
            depth(7, 9, 6, [["1.0", "1.000"]]),  # stale
            depth(10, 11, 9, [["99.0", "1.000"]]),
            depth(12, 14, 11, [["98.0", "1.000"]]),
        ],
    )
    chunks, loader = load(path)
    deltas = joined(chunks, "deltas")

    assert rows(deltas)[:5] == SNAPSHOT_ROWS
    assert deltas["sequence"][5:].tolist() == [11, 14]
    assert (loader.stats.diffs_stale, loader.stats.diffs_applied) == (1, 2)
    assert loader.sync_state.in_sync


def test_first_diff_not_bracketing_the_snapshot_is_a_gap(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "late.gz",
        [snapshot(10, BIDS, ASKS), depth(12, 14, 11, [["98.0", "1.000"]])],
    )
    chunks, loader = load(path)

    (gap,) = gaps(chunks)
    assert (gap.kind, gap.line, gap.expected, gap.first_update_id, gap.final_update_id) == (
        GapKind.FIRST_DIFF,
        2,
        10,
        12,
        14,
    )
    # The snapshot, then a clear: the downstream book is empty rather than wrong.
    assert rows(joined(chunks, "deltas"))[-1] == (BookAction.CLEAR, 0, 0, 0, 0, BAD | LAST)
    assert loader.sync_state.phase is SyncPhase.WAITING_FOR_SNAPSHOT


def test_missing_futures_diff_is_a_gap_and_the_book_is_cleared(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "gap.gz",
        [
            snapshot(10, BIDS, ASKS),
            depth(9, 12, 8, [["99.0", "1.000"]]),
            # the diff 13..15 (pu=12) is missing
            depth(16, 18, 15, [["98.0", "1.000"]]),
            depth(19, 20, 18, [["97.0", "1.000"]]),
        ],
    )
    chunks, loader = load(path)

    (gap,) = gaps(chunks)
    assert (gap.kind, gap.line, gap.expected, gap.previous_update_id) == (GapKind.CONTINUITY, 3, 12, 15)
    assert gap.ts_init == T0 + 2 * 1_000_000
    assert "pu=15 does not continue update id 12" in gap.describe()
    assert loader.stats.gaps == 1
    deltas = joined(chunks, "deltas")
    assert rows(deltas)[-1] == (BookAction.CLEAR, 0, 0, 0, 0, BAD | LAST)
    assert deltas["sequence"].tolist().count(20) == 0  # nothing applied after the gap
    assert loader.sync_state.phase is SyncPhase.WAITING_FOR_SNAPSHOT
    assert loader.stats.diffs_unapplied == 2


def test_missing_spot_diff_is_a_gap(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "spot_gap.gz",
        [
            snapshot(10, BIDS, ASKS, event_ms=None),
            depth(11, 12, bids=[["99.0", "1.000"]]),
            depth(14, 15, bids=[["98.0", "1.000"]]),  # U must be 13
        ],
    )
    chunks, _ = load(path)

    (gap,) = gaps(chunks)
    assert (gap.kind, gap.expected, gap.first_update_id, gap.previous_update_id) == (
        GapKind.CONTINUITY,
        12,
        14,
        None,
    )
    assert "U=14 u=15 does not continue update id 12 (U must be 13)" in gap.describe()


def test_gap_resyncs_on_the_next_snapshot_with_a_clear_and_snapshot_rows(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "resync.gz",
        [
            snapshot(10, BIDS, ASKS),
            depth(9, 12, 8, [["99.0", "1.000"]]),
            depth(16, 18, 15, [["98.0", "1.000"]]),  # gap
            depth(19, 21, 18, [["97.0", "1.000"]]),  # buffered
            snapshot(20, [["96.0", "5.000"]], [["96.5", "6.000"]]),
            depth(22, 23, 21, [], [["96.5", "0"]]),
        ],
    )
    chunks, loader = load(path)
    book = ReferenceBook()
    for chunk in chunks:
        book.apply(chunk.deltas)
    deltas = rows(joined(chunks, "deltas"))

    clear_at = deltas.index((BookAction.CLEAR, 0, 0, 0, 20, SNAPSHOT))
    assert deltas[clear_at : clear_at + 3] == [
        (BookAction.CLEAR, 0, 0, 0, 20, SNAPSHOT),
        (BookAction.ADD, OrderSide.BUY, 960, 5000, 20, SNAPSHOT),
        (BookAction.ADD, OrderSide.SELL, 965, 6000, 20, SNAPSHOT | LAST),
    ]
    # The buffered diff 19..21 brackets lastUpdateId=20 and is replayed, then 22..23 follows.
    assert [d[4] for d in deltas[clear_at + 3 :]] == [21, 23]
    assert book.bids == {970: 1000, 960: 5000} and book.asks == {}
    assert (loader.stats.gaps, loader.stats.snapshots_applied) == (1, 2)
    assert loader.sync_state.in_sync


def test_duplicated_diff_is_dropped_as_stale(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "dup.gz",
        [
            snapshot(10, BIDS, ASKS),
            depth(9, 12, 8, [["99.0", "1.000"]]),
            depth(9, 12, 8, [["99.0", "1.000"]]),
            depth(13, 14, 12, [["98.0", "1.000"]]),
        ],
    )
    chunks, loader = load(path)

    assert gaps(chunks) == []
    assert (loader.stats.diffs_stale, loader.stats.diffs_applied) == (1, 2)


def test_out_of_order_lines_are_a_gap(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "swap.gz",
        [
            snapshot(10, BIDS, ASKS),
            depth(9, 12, 8, [["99.0", "1.000"]]),
            depth(16, 18, 14, [["98.0", "1.000"]]),  # arrives before the diff it follows
            depth(13, 14, 12, [["97.0", "1.000"]]),
        ],
    )
    chunks, loader = load(path)

    assert [gap.kind for gap in gaps(chunks)] == [GapKind.CONTINUITY]
    assert gaps(chunks)[0].line == 3
    assert loader.stats.diffs_applied == 1
    assert not loader.sync_state.in_sync


def test_snapshot_older_than_the_buffered_diffs_is_refused(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "old.gz",
        [
            depth(20, 22, 19, [["99.0", "1.000"]]),
            snapshot(10, BIDS, ASKS),  # 11..19 were never seen: this snapshot cannot bridge
            depth(23, 25, 22, [["98.0", "1.000"]]),
            snapshot(21, [["90.0", "1.000"]], [["91.0", "1.000"]]),
        ],
    )
    chunks, loader = load(path)

    (gap,) = gaps(chunks)
    assert (gap.kind, gap.line, gap.expected, gap.first_update_id) == (GapKind.STALE_SNAPSHOT, 2, 10, 20)
    assert "predates the first buffered diff" in gap.describe()
    assert (loader.stats.snapshots_refused, loader.stats.snapshots_applied) == (1, 1)
    assert joined(chunks, "deltas")["sequence"].tolist()[-2:] == [22, 25]
    assert loader.sync_state.in_sync


def test_snapshot_while_in_sync_is_ignored(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "again.gz",
        [snapshot(10, BIDS, ASKS), depth(9, 12, 8, [["99.0", "1.000"]]), snapshot(12, BIDS, ASKS)],
    )
    chunks, loader = load(path)

    assert loader.stats.snapshots_ignored == 1
    assert joined(chunks, "deltas")["flags"].tolist().count(SNAPSHOT) == 4


def test_gap_is_logged_as_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_capture(
        tmp_path / "log.gz",
        [snapshot(10, BIDS, ASKS), depth(9, 12, 8), depth(16, 18, 15), snapshot(30, BIDS, ASKS)],
    )
    with caplog.at_level(logging.INFO, logger="zq.data.loaders.binance"):
        load(path)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("line 3" in message and "out of sync" in message for message in warnings)
    assert any("ended out of sync" in message for message in warnings)


def test_full_buffer_drops_the_oldest_diffs(tmp_path: Path) -> None:
    diffs = [depth(u, u, u - 1, [["99.0", f"{u}.000"]]) for u in range(1, 8)]
    path = write_capture(tmp_path / "full.gz", [*diffs, snapshot(5, BIDS, ASKS)])
    chunks, loader = load(path, max_buffered_diffs=3)

    assert loader.stats.diffs_overflowed == 4
    assert joined(chunks, "deltas")["sequence"].tolist()[-3:] == [5, 6, 7]
    assert gaps(chunks) == []


def test_book_continues_in_the_next_file_with_the_resumed_state(tmp_path: Path) -> None:
    first = write_capture(tmp_path / "a.gz", [snapshot(10, BIDS, ASKS), depth(9, 12, 8)])
    second = write_capture(tmp_path / "b.gz", [depth(13, 15, 12, [["98.0", "1.000"]])])
    _, before = load(first)
    chunks, after = load(second, resume=before.sync_state)

    assert gaps(chunks) == []
    assert rows(joined(chunks, "deltas")) == [(BookAction.UPDATE, OrderSide.BUY, 980, 1000, 15, LAST)]
    assert (after.market, after.price_precision, after.sync_state.update_id) == (BinanceMarket.USDM, 1, 15)


def test_continuation_that_does_not_follow_the_previous_file_is_reported(tmp_path: Path) -> None:
    first = write_capture(tmp_path / "a.gz", [snapshot(10, BIDS, ASKS), depth(9, 12, 8)])
    second = write_capture(tmp_path / "b.gz", [depth(20, 21, 19), depth(22, 23, 21)])
    _, before = load(first)
    chunks, after = load(second, resume=before.sync_state)

    (gap,) = gaps(chunks)
    assert (gap.kind, gap.line, gap.expected) == (GapKind.CONTINUITY, 1, 12)
    assert rows(joined(chunks, "deltas")) == [(BookAction.CLEAR, 0, 0, 0, 0, BAD | LAST)]
    assert after.stats.diffs_unapplied == 2 and not after.sync_state.in_sync


def test_capture_without_a_snapshot_never_applies_a_diff(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "nosnap.gz", [depth(1, 2), depth(3, 4)])
    chunks, loader = load(path)

    assert len(joined(chunks, "deltas")) == 0
    assert loader.stats.diffs_unapplied == 2
    assert loader.sync_state.phase is SyncPhase.WAITING_FOR_SNAPSHOT


def test_resumed_state_with_another_market_is_refused(tmp_path: Path) -> None:
    state = BookSyncState(BinanceMarket.SPOT, SyncPhase.SYNCED, 5)
    with pytest.raises(ValueError, match="contradicts the resumed state"):
        BinanceCaptureLoader(tmp_path / "x.gz", market="usdm", resume=state)


# -- chunks ----------------------------------------------------------------------------------


def synthetic_capture(seed: int, diffs: int) -> list[dict[str, Any]]:
    """A futures capture with random diffs, bookTickers from the true book, a late snapshot."""
    rng = np.random.default_rng(seed)
    bids = {int(p): int(rng.integers(1, 5000)) for p in rng.choice(np.arange(900, 1000), 30, replace=False)}
    asks = {int(p): int(rng.integers(1, 5000)) for p in rng.choice(np.arange(1001, 1100), 30, replace=False)}
    messages: list[dict[str, Any]] = []
    final = 100
    snapshot_at = 3
    for index in range(diffs):
        first, final = final + 1, final + int(rng.integers(1, 4))
        changes: dict[str, list[list[str]]] = {"b": [], "a": []}
        for side, levels, low, high in (("b", bids, 900, 1000), ("a", asks, 1001, 1100)):
            for price in rng.integers(low, high, int(rng.integers(0, 4))).tolist():
                size = int(rng.integers(0, 3000)) if rng.random() < 0.7 else 0
                if size or len(levels) > 1:
                    levels.pop(price, None) if size == 0 else levels.__setitem__(price, size)
                    changes[side].append([f"{price / 10:.1f}", f"{size / 1000:.3f}"])
        messages.append(depth(first, final, first - 1 if index else 99, changes["b"], changes["a"]))
        if index == snapshot_at:
            messages.append(
                snapshot(
                    final,
                    [[f"{p / 10:.1f}", f"{s / 1000:.3f}"] for p, s in sorted(bids.items())],
                    [[f"{p / 10:.1f}", f"{s / 1000:.3f}"] for p, s in sorted(asks.items())],
                )
            )
        best_bid, best_ask = max(bids), min(asks)
        messages.append(
            book_ticker(final, f"{best_bid / 10:.1f}", f"{bids[best_bid] / 1000:.3f}", f"{best_ask / 10:.1f}", f"{asks[best_ask] / 1000:.3f}")
        )
        if rng.random() < 0.3:
            messages.append(trade(index, f"{best_ask / 10:.1f}", "0.001", bool(rng.random() < 0.5)))
    return messages


def test_synthetic_replay_matches_every_book_ticker_after_the_snapshot(tmp_path: Path) -> None:
    messages = synthetic_capture(seed=7, diffs=300)
    path = write_capture(tmp_path / "synthetic.gz", messages)
    chunks, loader = load(path, price_precision=1, size_precision=3)
    (snapshot_id,) = [m["lastUpdateId"] for m in messages if "lastUpdateId" in m]
    diffs = [m["data"] for m in messages if m.get("stream", "").endswith("depth@0ms")]
    applied = [d for d in diffs if d["u"] >= snapshot_id]
    changed = [d for d in applied if d["b"] or d["a"]]  # an empty diff emits no delta
    book = ReferenceBook()
    for chunk in chunks:
        book.apply(chunk.deltas)
    tickers = {
        int(u): (q["bid_price"], q["bid_size"], q["ask_price"], q["ask_size"])
        for u, q in zip(joined(chunks, "quote_update_ids"), joined(chunks, "quotes"), strict=True)
    }

    paired = set(tickers) & set(book.tops)
    assert loader.stats.diffs_applied == len(applied) == 297
    assert len(paired) == len(changed)
    assert all(book.tops[u] == tickers[u] for u in paired)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), chunk_bytes=st.integers(50, 5_000))
def test_chunk_size_does_not_change_the_output(tmp_path_factory: pytest.TempPathFactory, seed: int, chunk_bytes: int) -> None:
    path = write_capture(tmp_path_factory.mktemp("c") / "c.gz", synthetic_capture(seed, diffs=40))
    whole, _ = load(path, price_precision=1, size_precision=3)
    pieces, loader = load(path, price_precision=1, size_precision=3, chunk_bytes=chunk_bytes)

    assert len(pieces) > 1
    for name in ("deltas", "quotes", "quote_update_ids", "trades"):
        assert joined(pieces, name).tobytes() == joined(whole, name).tobytes(), name
    assert pieces[-1].last_line == loader.stats.lines
    assert all(a.last_line < b.first_line for a, b in itertools.pairwise(pieces))


def test_memory_is_bounded_by_the_chunk_not_the_file(tmp_path: Path) -> None:
    line = json.dumps(trade(1, "61800.20", "0.010", True), separators=(",", ":"))
    text = "".join(f"{T0 + i} {line}\n" for i in range(20_000))  # 3 MB of text
    path = tmp_path / "big.gz"
    path.write_bytes(gzip.compress(text.encode(), compresslevel=1))
    loader = BinanceCaptureLoader(path, chunk_bytes=1 << 16)

    tracemalloc.start()
    try:
        trades = sum(len(chunk.trades) for chunk in loader.chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert trades == 20_000
    assert peak < 1_500_000, peak  # half the text: it does not hold the file


def test_chunks_can_be_read_again_from_the_start(tmp_path: Path) -> None:
    loader = BinanceCaptureLoader(futures_capture(tmp_path))
    first = [chunk.deltas.tobytes() for chunk in loader.chunks()]
    second = [chunk.deltas.tobytes() for chunk in loader.chunks()]

    assert first == second and loader.stats.snapshots_applied == 1


# -- malformed input -------------------------------------------------------------------------


def test_malformed_json_line_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "bad.gz",
        [trade(1, "1.0", "1.0", False), f'{T0} {{"stream":"btcusdt@trade","data":{{"e":"tr'],
    )
    with pytest.raises(DataFormatError, match="malformed JSON") as caught:
        load(path)
    assert caught.value.path == str(path) and caught.value.line == 2


def test_malformed_snapshot_line_is_refused(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "bad.gz", [f'{T0} {{"lastUpdateId": 5, "bids": [[1'])

    with pytest.raises(DataFormatError, match="line 1"):
        load(path)


def test_line_without_a_local_timestamp_is_refused(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "bad.gz", ['{"stream":"btcusdt@trade"}'])

    with pytest.raises(DataFormatError, match="local receive time") as caught:
        load(path)
    assert (caught.value.line, caught.value.field) == (1, "local_ts")


def test_field_of_the_wrong_type_is_refused_naming_the_field(tmp_path: Path) -> None:
    bad = depth(1, 2, 0)
    bad["data"]["u"] = "two"
    path = write_capture(tmp_path / "bad.gz", [bad])

    with pytest.raises(DataFormatError, match="Expected `int`") as caught:
        load(path)
    assert (caught.value.line, caught.value.field) == (1, "data.u")


def test_missing_field_is_refused_naming_it(tmp_path: Path) -> None:
    bad = trade(1, "1.0", "1.0", False)
    del bad["data"]["m"]
    path = write_capture(tmp_path / "bad.gz", [bad])

    with pytest.raises(DataFormatError, match="missing required field `m`") as caught:
        load(path)
    assert caught.value.field == "data"


@pytest.mark.parametrize(
    ("level", "field", "problem"),
    [
        (["99.O", "1.000"], "data.b[1][0]", "not a non-negative decimal"),
        (["99.0", "-1.000"], "data.b[1][1]", "not a non-negative decimal"),
        (["99.0", 1.5], "data.b", "string pairs"),
        (["99.0"], "data.b", "string pairs"),
    ],
)
def test_malformed_price_level_is_refused_naming_the_level(
    tmp_path: Path, level: list[Any], field: str, problem: str
) -> None:
    path = write_capture(
        tmp_path / "bad.gz",
        [trade(1, "1.0", "1.0", False), depth(1, 2, 0, [["100.0", "1.000"], level])],
    )
    with pytest.raises(DataFormatError, match=problem) as caught:
        load(path)
    assert (caught.value.line, caught.value.field) == (2, field)


def test_malformed_snapshot_level_is_refused_naming_the_level(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "bad.gz", [snapshot(5, BIDS, [["100.5", "1..5"]])])

    with pytest.raises(DataFormatError) as caught:
        load(path)
    assert (caught.value.line, caught.value.field) == (1, "asks[0][1]")


def test_malformed_quote_price_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "bad.gz", [book_ticker(1, "1.0", "2.0", "1.5", "3,0")])

    with pytest.raises(DataFormatError) as caught:
        load(path)
    assert (caught.value.line, caught.value.field, caught.value.value) == (1, "data.A", '"3,0"')


def test_number_where_a_decimal_string_belongs_is_refused(tmp_path: Path) -> None:
    bad = trade(1, "1.0", "1.0", False)
    bad["data"]["q"] = 1.0
    path = write_capture(tmp_path / "bad.gz", [bad])

    with pytest.raises(DataFormatError, match="expected a decimal string") as caught:
        load(path)
    assert caught.value.field == "data.q"


def test_second_symbol_is_refused(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "two.gz", [depth(1, 2), depth(3, 4, symbol="ETHUSDT")])

    with pytest.raises(DataFormatError, match="one symbol") as caught:
        load(path)
    assert (caught.value.line, caught.value.field, caught.value.value) == (2, "data.s", "ETHUSDT")


def test_spot_diff_in_a_futures_capture_is_refused(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "mixed.gz", [depth(1, 2, 0), depth(3, 4)])

    with pytest.raises(DataFormatError, match="a spot diff in a usdm capture") as caught:
        load(path)
    assert caught.value.line == 2


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "cut.gz", [trade(i, "1.0", "1.0", False) for i in range(50)])
    path.write_bytes(path.read_bytes()[:-30])

    with pytest.raises(DataFormatError, match="cannot decompress"):
        load(path)


def test_no_chunk_holding_the_bad_line_is_yielded(tmp_path: Path) -> None:
    good = [trade(i, "1.0", "1.0", False) for i in range(40)]
    path = write_capture(tmp_path / "late_error.gz", [*good, f"{T0} not json"])
    seen: list[BinanceCaptureChunk] = []

    with pytest.raises(DataFormatError) as caught:
        seen.extend(BinanceCaptureLoader(path, chunk_bytes=2_000).chunks())
    assert caught.value.line == 41
    assert seen and all(chunk.last_line < 41 for chunk in seen)
    assert sum(len(chunk.trades) for chunk in seen) < 40
