"""The compiled replay loop (zq_core.replay) through BacktestNode.

Checked against expectations computed here from the input arrays themselves: the merge
order of several sources, the data a strategy receives after subscribing mid-run, the
latest trade the cache makes on demand, and the equality of the array and object paths.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pytest

from zq.backtest import BacktestNode
from zq.backtest.config import (
    BacktestConfig,
    DataConfig,
    LatencyModelConfig,
    StrategyConfig,
    VenueConfig,
)
from zq.common.clock import TimeEvent
from zq.data.arrays import (
    DELTA_DTYPE,
    QUOTE_DTYPE,
    TRADE_DTYPE,
    deltas_to_objects,
    trades_to_objects,
)
from zq.data.catalog.schema import DataKind, DataSeries
from zq.demo import START_NS, demo_instrument
from zq.model.data import QuoteTick, TradeTick
from zq.model.enums import OrderSide
from zq.model.identifiers import InstrumentId, TradeId
from zq.model.serialization import to_json
from zq.strategy import Strategy
from zq_core.book import L2Book
from zq_core.fixed import Price, Quantity

INSTRUMENT = demo_instrument()
ID = INSTRUMENT.id
TRADES = DataSeries(DataKind.TRADES, str(ID), 2, 5)
QUOTES = DataSeries(DataKind.QUOTES, str(ID), 2, 5)

#: What strategies of this module saw, by strategy id (reset by each test).
SEEN: dict[str, list[Any]] = {}


class Recorder(Strategy[None]):
    """Record every trade and quote (ts_init, kind, price raw)."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.subscribe_trades(ID)
        self.subscribe_quotes(ID)

    def on_trade(self, trade: TradeTick) -> None:
        assert type(trade.trade_id) is TradeId  # made in C, still the identifier type
        SEEN[str(self.id)].append((trade.ts_init, "trade", trade.price.raw, str(trade.trade_id)))

    def on_quote(self, quote: QuoteTick) -> None:
        SEEN[str(self.id)].append((quote.ts_init, "quote", quote.bid_price.raw, None))


class LateSubscriber(Strategy[None]):
    """Read the cache's latest trade on a timer; subscribe to trades at the third tick."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.ticks = 0
        self.clock.set_timer("tick", 1_000_000_000, self._tick)

    def _tick(self, event: TimeEvent) -> None:
        self.ticks += 1
        latest = self.cache.trade(ID)
        SEEN[str(self.id)].append(
            ("cache", event.ts_event, None if latest is None else latest.ts_init)
        )
        if self.ticks == 3:
            self.subscribe_trades(ID)

    def on_trade(self, trade: TradeTick) -> None:
        SEEN[str(self.id)].append(("trade", trade.ts_init, None))


def _config(path: str, **kwargs: Any) -> BacktestConfig:
    return BacktestConfig(
        venues=[VenueConfig(account_type="MARGIN")],
        strategies=[StrategyConfig(path=f"{__name__}:{path}", strategy_id=f"{path}-001")],
        **kwargs,
    )


def _trades(times: list[int], first_id: int = 1) -> np.ndarray:
    rows = np.zeros(len(times), dtype=TRADE_DTYPE)
    rows["ts_event"] = rows["ts_init"] = times
    rows["price"] = 4_200_000 + np.arange(len(times))
    rows["size"] = 100_000
    rows["trade_id"] = np.arange(first_id, first_id + len(times))
    rows["aggressor_side"] = 1
    return rows


def _quotes(times: list[int]) -> np.ndarray:
    rows = np.zeros(len(times), dtype=QUOTE_DTYPE)
    rows["ts_event"] = rows["ts_init"] = times
    rows["bid_price"] = 4_100_000 + np.arange(len(times))
    rows["ask_price"] = rows["bid_price"] + 1
    rows["bid_size"] = rows["ask_size"] = 100_000
    return rows


def test_sources_merge_by_time_then_kind_then_source() -> None:
    SEEN.clear()
    t = START_NS
    trades_a = _trades([t + 1, t + 5, t + 5, t + 9])
    trades_b = _trades([t + 2, t + 5, t + 7], first_id=100)
    quotes = _quotes([t + 5, t + 6])
    sources = [
        [(TRADES, trades_a[:2]), (TRADES, trades_a[2:])],  # a source of two runs
        [(TRADES, trades_b)],
        [(QUOTES, quotes)],
    ]
    result = BacktestNode(_config("Recorder"), instruments=[INSTRUMENT], sources=sources).run()
    # Expected: by ts_init; at equal time quotes (rank 1) before trades (rank 2); then by
    # source order; rows of one source in their own order.
    rows: list[tuple[int, int, int, int, Any]] = []
    for index, (kind, rank, array) in enumerate(
        [("trade", 2, trades_a), ("trade", 2, trades_b), ("quote", 1, quotes)]
    ):
        for position, row in enumerate(array):
            price = row["price"] if kind == "trade" else row["bid_price"]
            trade_id = str(row["trade_id"]) if kind == "trade" else None
            rows.append((int(row["ts_init"]), rank, index, position, (kind, int(price), trade_id)))
    expected = [(ts, kind, price, tid) for ts, _, _, _, (kind, price, tid) in sorted(rows)]
    assert SEEN["Recorder-001"] == expected
    assert result.data_count == len(expected) == 9


def test_trade_ids_and_times_made_in_c_equal_pythons() -> None:
    SEEN.clear()
    t = START_NS
    trades = _trades([t + 1, t + 2, t + 3, t + 4, t + 5])
    ids = [0, 9, 2**63 - 1, 2**63, 2**64 - 1]  # unsigned: no sign to lose
    trades["trade_id"] = ids
    trades["ts_event"][1] = t - 7  # stamped by the venue before it reached us
    node = BacktestNode(_config("Recorder"), instruments=[INSTRUMENT], sources=[[(TRADES, trades)]])
    node.run()
    assert [tid for _, _, _, tid in SEEN["Recorder-001"]] == [str(i) for i in ids]
    seen = list(trades_to_objects(trades, ID, 2, 5))
    assert [(s.ts_event, s.ts_init) for s in seen] == [
        (int(r["ts_event"]), int(r["ts_init"])) for r in trades
    ]


def test_mid_run_subscription_and_latest_trade_made_on_demand() -> None:
    SEEN.clear()
    step = 300_000_000  # a trade every 0.3 s; the timer ticks every second
    times = [START_NS + step * (i + 1) for i in range(20)]
    trades = _trades(times)
    node = BacktestNode(
        _config("LateSubscriber"), instruments=[INSTRUMENT], sources=[[(TRADES, trades)]]
    )
    node.run()
    seen = SEEN["LateSubscriber-001"]
    ticks = [(ts, latest) for what, ts, latest in seen if what == "cache"]
    received = [ts for what, ts, _ in seen if what == "trade"]
    # The latest trade at each tick: the last row with ts_init <= the tick (a timer due at
    # a trade's time fires before that trade).
    for ts, latest in ticks:
        before = [t for t in times if t < ts]
        assert latest == (before[-1] if before else None)
    third = ticks[2][0]  # a trade has this very time: the timer fires first, so it is received
    assert third in times
    assert received == [t for t in times if t >= third]
    # The clock starts at the first trade; the ticks follow each second to the last trade.
    assert [ts for ts, _ in ticks] == [times[0] + k * 1_000_000_000 for k in range(1, 6)]


def test_array_and_object_paths_give_the_same_events() -> None:
    config = BacktestConfig(
        venues=[VenueConfig(account_type="MARGIN")],
        strategies=[
            StrategyConfig(
                path="examples.ema_cross:EmaCross",
                params={"fast": 5, "slow": 12, "trade_size": "0.01"},
            )
        ],
        data=[DataConfig(kind="generated", count=20_000, seed=3)],
    )
    from_arrays = BacktestNode(config).run()
    rows = np.concatenate(
        [rows for _, rows in _generated_runs(config)]
    )  # the same trades as objects
    objects = list(trades_to_objects(rows, ID, 2, 5))
    from_objects = BacktestNode(
        msgspec.structs.replace(config, data=[]), data=objects, instruments=[INSTRUMENT]
    ).run()
    assert from_arrays.order_count > 100
    assert [to_json(e) for e in from_arrays.events] == [to_json(e) for e in from_objects.events]


def _generated_runs(config: BacktestConfig) -> list[tuple[DataSeries, np.ndarray]]:
    from zq.backtest.sources import open_sources

    return list(open_sources(config, {ID: INSTRUMENT})[0])


def test_rows_at_other_precisions_than_the_instrument_are_refused() -> None:
    series = DataSeries(DataKind.TRADES, str(ID), 3, 5)
    node = BacktestNode(
        _config("Recorder"), instruments=[INSTRUMENT], sources=[[(series, _trades([START_NS]))]]
    )
    with pytest.raises(ValueError, match=r"price/size precisions 3/5, but instrument "
                       r"BTCUSDT.SIM has 2/5"):
        node.run()


def test_progress_is_called_every_n_rows() -> None:
    from zq_core.replay import ReplayLoop

    calls: list[tuple[int, int]] = []
    times = [START_NS + i for i in range(10)]

    class _NoVenue:  # a resolver for series no venue trades and nobody listens to
        def venue(self, series: DataSeries) -> tuple[Any, ...]:
            return 2, InstrumentId(series.key), 2, 5, None, None

        def data(self, series: DataSeries) -> tuple[Any, ...]:
            return None, None, None, None, None

        def make(self, kind: int) -> Any:
            return None

        def dtype(self, kind: int) -> Any:
            return TRADE_DTYPE

        def delta_types(self) -> tuple[Any, ...]:
            return None, (), ()

    from zq.common.clock import TestClock
    from zq_core.bus import MessageBus

    loop = ReplayLoop(
        TestClock(START_NS), MessageBus(), _NoVenue(), lambda n, ts: calls.append((n, ts)), 4
    )
    assert loop.open([[(TRADES, _trades(times))]]) == START_NS
    assert loop.run() == 10
    assert calls == [(4, times[3]), (8, times[7])]


class Faulty(Strategy[None]):
    """Raise on the third trade."""

    def on_start(self) -> None:
        self.trades = 0
        self.subscribe_trades(ID)

    def on_trade(self, trade: TradeTick) -> None:
        self.trades += 1
        if self.trades == 3:
            raise ZeroDivisionError("the strategy's own error")


def test_a_strategy_error_reaches_the_caller_unchanged() -> None:
    node = BacktestNode(
        _config("Faulty"),
        instruments=[INSTRUMENT],
        sources=[[(TRADES, _trades([START_NS + i for i in range(5)]))]],
    )
    with pytest.raises(ZeroDivisionError, match="the strategy's own error"):
        node.run()
    assert node.kernel is None  # torn down all the same


def test_rows_of_another_layout_than_the_series_kind_are_refused() -> None:
    node = BacktestNode(
        _config("Recorder"), instruments=[INSTRUMENT], sources=[[(TRADES, _quotes([START_NS]))]]
    )
    with pytest.raises(TypeError, match=r"rows of .* have dtype .*, expected .*zq.data.arrays"):
        node.run()


def test_a_source_going_back_in_time_is_refused() -> None:
    rows = _trades([START_NS + 5, START_NS + 9, START_NS + 7])
    node = BacktestNode(_config("Recorder"), instruments=[INSTRUMENT], sources=[[(TRADES, rows)]])
    with pytest.raises(ValueError, match=rf"trades of BTCUSDT.SIM: ts_init {START_NS + 7} is "
                       rf"before the previous row's {START_NS + 9}"):
        node.run()


def test_quotes_reach_the_strategies_but_not_an_l2_venues_matching() -> None:
    SEEN.clear()
    config = msgspec.structs.replace(
        _config("Recorder"), venues=[VenueConfig(account_type="MARGIN", book_type="L2_MBP")]
    )
    quotes = _quotes([START_NS + 1, START_NS + 2])
    result = BacktestNode(config, instruments=[INSTRUMENT], sources=[[(QUOTES, quotes)]]).run()
    assert result.data_count == 2
    assert [kind for _, kind, _, _ in SEEN["Recorder-001"]] == ["quote", "quote"]


def test_a_catalog_replays_per_series_in_the_order_of_its_merged_stream(tmp_path: Any) -> None:
    from zq.data.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog(tmp_path / "catalog")
    catalog.write_instrument(INSTRUMENT)
    t = START_NS
    # Trades and quotes interleave finely, with ties across kinds.
    catalog.write_trades(ID, _trades([t + 1, t + 3, t + 3, t + 6, t + 8]))
    catalog.write_quotes(ID, _quotes([t + 2, t + 3, t + 6, t + 7]))
    SEEN.clear()
    merged = catalog.stream()  # the catalog's own merge, as one source
    BacktestNode(_config("Recorder"), instruments=[INSTRUMENT], sources=[merged]).run()
    expected = SEEN.pop("Recorder-001")
    SEEN.clear()
    config = msgspec.structs.replace(
        _config("Recorder"), data=[DataConfig(kind="catalog", path=str(tmp_path / "catalog"))]
    )
    result = BacktestNode(config).run()
    assert result.data_count == 9
    assert SEEN["Recorder-001"] == expected
    assert [kind for _, kind, _, _ in expected] == [
        "trade", "quote", "quote", "trade", "trade", "quote", "trade", "quote", "trade"
    ]


class DeltaRecorder(Strategy[None]):
    """Record every book delta."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.subscribe_book_deltas(ID)

    def on_book(self, book: Any) -> None:
        SEEN[str(self.id)].append(book)


def _deltas(rows: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    array = np.zeros(len(rows), dtype=DELTA_DTYPE)
    for i, (ts, action, side, price, size) in enumerate(rows):
        array[i]["ts_event"] = array[i]["ts_init"] = ts
        array[i]["action"], array[i]["side"] = action, side
        array[i]["price"], array[i]["size"] = price, size
        array[i]["sequence"] = i + 1
        array[i]["flags"] = 128
    return array


def test_delta_listeners_get_the_rows_as_objects() -> None:
    SEEN.clear()
    t = START_NS
    rows = _deltas([(t + 1, 1, 1, 4_199_990, 10_000), (t + 1, 1, 2, 4_200_010, 20_000),
                    (t + 2, 2, 1, 4_199_990, 5_000), (t + 3, 3, 2, 4_200_010, 0)])
    config = msgspec.structs.replace(
        _config("DeltaRecorder"), venues=[VenueConfig(account_type="MARGIN", book_type="L2_MBP")]
    )
    series = DataSeries(DataKind.DELTAS, str(ID), 2, 5)
    BacktestNode(config, instruments=[INSTRUMENT], sources=[[(series, rows)]]).run()
    assert SEEN["DeltaRecorder-001"] == list(deltas_to_objects(rows, ID, 2, 5))


def test_a_delta_row_with_an_unknown_action_is_refused() -> None:
    config = msgspec.structs.replace(
        _config("DeltaRecorder"), venues=[VenueConfig(account_type="MARGIN", book_type="L2_MBP")]
    )
    rows = _deltas([(START_NS + 1, 1, 1, 4_199_990, 10_000), (START_NS + 2, 9, 1, 4_199_990, 1)])
    series = DataSeries(DataKind.DELTAS, str(ID), 2, 5)
    node = BacktestNode(config, instruments=[INSTRUMENT], sources=[[(series, rows)]])
    with pytest.raises(ValueError, match=r"BTCUSDT.SIM: action 9 .*unknown action 9"):
        node.run()


class BookReader(Strategy[None]):
    """Keep the book without callbacks; read its top on a timer."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.subscribe_order_book(ID)
        self.clock.set_timer("read", 10, self._read)

    def _read(self, event: TimeEvent) -> None:
        book = self.order_book(ID)
        assert book is not None
        SEEN[str(self.id)].append((event.ts_event, book.best_bid_raw(), book.best_ask_raw()))

    def on_book(self, book: Any) -> None:
        raise AssertionError("subscribe_order_book calls nothing back")


def test_a_kept_book_is_read_on_a_timer_without_callbacks() -> None:
    SEEN.clear()
    t = START_NS
    rows = _deltas([
        (t + 1, 1, 1, 4_199_990, 10_000),   # bid 41999.90
        (t + 1, 1, 2, 4_200_010, 20_000),   # ask 42000.10
        (t + 12, 1, 1, 4_200_000, 5_000),   # a better bid
        (t + 25, 3, 2, 4_200_010, 0),       # the ask leaves; none left
        (t + 27, 1, 2, 4_200_020, 1_000),   # a new ask
    ])
    config = msgspec.structs.replace(
        _config("BookReader"), venues=[VenueConfig(account_type="MARGIN", book_type="L2_MBP")]
    )
    series = DataSeries(DataKind.DELTAS, str(ID), 2, 5)
    node = BacktestNode(config, instruments=[INSTRUMENT], sources=[[(series, rows)]])
    node.run()
    # The timer fires every 10 ns from the first delta's time (t + 1); at each tick the book
    # holds the deltas before it (a timer fires before data of its own time).
    assert SEEN["BookReader-001"] == [
        (t + 11, 4_199_990, 4_200_010),
        (t + 21, 4_200_000, 4_200_010),
    ]


class BookChecker(Strategy[None]):
    """Subscribe to deltas and keep the book: at each delta, record the engine's book."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.subscribe_order_book(ID)
        self.subscribe_book_deltas(ID)

    def on_book(self, delta: Any) -> None:
        book = self.order_book(ID)
        assert book is not None
        SEEN[str(self.id)].append(
            (delta.sequence, book.sequence, book.bids(5), book.asks(5), book.update_count)
        )


@pytest.mark.parametrize("listen", [False, True])
def test_the_engine_reads_the_venues_book_and_applies_each_delta_once(listen: bool) -> None:
    # Reducing (FILL) deltas are not idempotent: a delta applied twice would show.
    SEEN.clear()
    t = START_NS
    rows = _deltas([
        (t + 1, 1, 1, 4_199_990, 10_000),
        (t + 1, 1, 2, 4_200_010, 20_000),
        (t + 2, 5, 1, 4_199_990, 3_000),    # FILL: 3,000 of the bid trade away
        (t + 3, 5, 2, 4_200_010, 5_000),
        (t + 4, 1, 1, 4_199_980, 7_000),
        (t + 5, 3, 1, 4_199_990, 0),        # DELETE the best bid
        (t + 30, 1, 2, 4_200_050, 1_000),   # after the BookReader's reads at t + 11 and t + 21
    ])
    name = "BookChecker" if listen else "BookReader"
    config = msgspec.structs.replace(
        _config(name), venues=[VenueConfig(account_type="MARGIN", book_type="L2_MBP")]
    )
    series = DataSeries(DataKind.DELTAS, str(ID), 2, 5)
    BacktestNode(config, instruments=[INSTRUMENT], sources=[[(series, rows)]]).run()
    # The reference: a fresh book fed each delta once, read the same way.
    reference = L2Book(str(ID), 2, 5)
    expected = []
    for delta in deltas_to_objects(rows if listen else rows[:6], ID, 2, 5):
        reference.apply(delta)
        expected.append(
            (delta.sequence, reference.sequence, reference.bids(5), reference.asks(5),
             reference.update_count)
        )
    if listen:
        assert SEEN["BookChecker-001"] == expected
    else:  # read on the 10 ns timer: at t + 11 and t + 21 the book holds the first six
        top = (reference.best_bid_raw(), reference.best_ask_raw())
        assert top == (4_199_980, 4_200_010)
        assert SEEN["BookReader-001"] == [(t + 11, *top), (t + 21, *top)]


class SubscribeThenLeave(Strategy[None]):
    """Listen to the first five trades (checking the cache's latest), then read it on a timer."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.subscribe_trades(ID)
        self.clock.set_timer("read", 1_000_000_000, self._read)

    def on_trade(self, trade: TradeTick) -> None:
        assert self.cache.trade(ID) is trade  # the cache's latest is the trade just heard
        SEEN[str(self.id)].append(("trade", trade.ts_init))
        if sum(1 for entry in SEEN[str(self.id)] if entry[0] == "trade") == 5:
            self.unsubscribe_trades(ID)

    def _read(self, event: TimeEvent) -> None:
        latest = self.cache.trade(ID)
        SEEN[str(self.id)].append(("read", event.ts_event, None if latest is None else latest.ts_init))


def test_the_cache_holds_the_latest_trade_heard_or_not() -> None:
    SEEN.clear()
    step = 300_000_000  # a trade every 0.3 s; the timer reads every second
    times = [START_NS + step * (i + 1) for i in range(12)]
    BacktestNode(
        _config("SubscribeThenLeave"), instruments=[INSTRUMENT], sources=[[(TRADES, _trades(times))]]
    ).run()
    seen = SEEN["SubscribeThenLeave-001"]
    assert [entry[1] for entry in seen if entry[0] == "trade"] == times[:5]
    # Each read sees the latest trade by then, whether it was made for a listener or not.
    reads = [entry for entry in seen if entry[0] == "read"]
    assert reads and all(
        latest == max(t for t in times if t < at) for _, at, latest in reads
    )
    assert any(at > times[5] for _, at, _ in reads)  # reads after the strategy stopped listening


class AlertSetter(Strategy[None]):
    """On each trade, set a one-shot alert 2 ns after it; record trades and alerts."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.subscribe_trades(ID)

    def on_trade(self, trade: TradeTick) -> None:
        SEEN[str(self.id)].append(("trade", trade.ts_init, self.clock.timestamp_ns()))
        self.clock.set_time_alert(f"after-{trade.ts_init}", trade.ts_init + 2, self._alert)

    def _alert(self, event: TimeEvent) -> None:
        SEEN[str(self.id)].append(("alert", event.ts_event, self.clock.timestamp_ns()))


def test_a_timer_set_by_a_listener_fires_before_the_next_row_past_it() -> None:
    # The loop holds the timers' next fire time between calls into Python; an alert set
    # from a data callback must still fire before the first row after it.
    SEEN.clear()
    t = START_NS
    times = [t + 1, t + 2, t + 3, t + 10]
    BacktestNode(
        _config("AlertSetter"), instruments=[INSTRUMENT], sources=[[(TRADES, _trades(times))]]
    ).run()
    # By hand: the trades at t+1, t+2, t+3 set alerts at t+3, t+4, t+5. The alert at t+3
    # fires before the trade of its own time; those at t+4 and t+5 fire before the trade at
    # t+10, each at its own time; the trade at t+10 sets one at t+12, after the last row.
    assert SEEN["AlertSetter-001"] == [
        ("trade", t + 1, t + 1),
        ("trade", t + 2, t + 2),
        ("alert", t + 3, t + 3),
        ("trade", t + 3, t + 3),
        ("alert", t + 4, t + 4),
        ("alert", t + 5, t + 5),
        ("trade", t + 10, t + 10),
    ]


class ListenOnFill(Strategy[None]):
    """Rest a buy under the market; subscribe to trades when it fills."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        order = self.order_factory.limit(
            ID, OrderSide.BUY, Quantity.from_raw(100_000, 5), Price.from_raw(4_100_000, 2)
        )
        self.submit_order(order)

    def on_order_filled(self, event: Any) -> None:
        SEEN[str(self.id)].append(("filled", event.ts_event))
        self.subscribe_trades(ID)

    def on_trade(self, trade: TradeTick) -> None:
        SEEN[str(self.id)].append(("trade", trade.ts_init))


def test_a_subscription_made_by_a_fill_hears_the_row_that_filled() -> None:
    # Rows no strategy hears go straight to the matching core; a fill runs Python, and a
    # subscription made then must reach the very row that filled (the rest of the row's
    # steps run after the venue's), as on the object path, which never takes the shortcut.
    t = START_NS
    times = [t + 1, t + 2, t + 3, t + 4, t + 5, t + 6]
    rows = _trades(times)
    rows["price"][3] = 4_000_000  # a seller trades through our 41000.00 bid: the fill
    rows["aggressor_side"][3] = 2
    config = _config("ListenOnFill")
    SEEN.clear()
    BacktestNode(config, instruments=[INSTRUMENT], sources=[[(TRADES, rows)]]).run()
    from_arrays = SEEN["ListenOnFill-001"]
    SEEN.clear()
    objects = list(trades_to_objects(rows, ID, 2, 5))
    BacktestNode(config, instruments=[INSTRUMENT], data=objects).run()
    assert from_arrays == SEEN["ListenOnFill-001"]
    # The fill at the fourth trade, then that trade and the two after it.
    assert from_arrays == [("filled", t + 4), ("trade", t + 4), ("trade", t + 5), ("trade", t + 6)]


def test_quiet_rows_of_two_sources_replay_like_objects_with_the_same_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The L2 market maker leaves its deltas and trades to the venue's matching core alone:
    # the loop takes them in C stretches (_quiet_rows), each bounded by the next timer, the
    # venue's next work and the other source's next row (equal stamps: deltas first).
    # Objects are never taken that way, so the object path is the reference: the same
    # events, and progress reported at the same rows.
    from examples import market_maker

    calls: list[list[tuple[int, int]]] = []

    class Bar:
        def __init__(self) -> None:
            calls.append([])

        def __call__(self, rows: int, ts: int) -> None:
            calls[-1].append((rows, ts))

        def close(self) -> None:
            pass

    monkeypatch.setattr("zq.backtest.node.progress_bar", lambda *args, **kwargs: Bar())
    deltas, trades = market_maker.generate_l2_arrays(150_000, seed=5)
    trades["ts_init"][::3] = deltas["ts_init"][: len(trades[::3])]  # equal stamps, sorted
    trades["ts_init"].sort()
    trades["ts_event"] = trades["ts_init"]
    config = market_maker.example_config(None)
    (instrument,) = BacktestNode(config).instruments()
    key, pp, sp = str(instrument.id), instrument.price_precision, instrument.size_precision
    arrays = BacktestNode(
        config,
        progress=True,
        sources=[
            [(DataSeries(DataKind.DELTAS, key, pp, sp), deltas)],
            [(DataSeries(DataKind.TRADES, key, pp, sp), trades)],
        ],
    ).run()
    objects = sorted(
        [*deltas_to_objects(deltas, instrument.id, pp, sp),
         *trades_to_objects(trades, instrument.id, pp, sp)],
        key=lambda datum: (datum.ts_init, 0 if hasattr(datum, "action") else 2),
    )
    from_objects = BacktestNode(config, progress=True, data=objects).run()
    assert arrays.order_count > 100 and arrays.fill_count > 10
    assert [to_json(e) for e in arrays.events] == [to_json(e) for e in from_objects.events]
    assert len(calls) == 2 and len(calls[0]) >= 2
    assert calls[0] == calls[1]


class KeepSome(Strategy[None]):
    """Keep every third trade and every fourth price; read the size and id of every other
    trade, then let it go."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.kept: list[TradeTick] = []
        self.prices: list[Price] = []
        self.count = 0
        self.subscribe_trades(ID)

    def on_trade(self, trade: TradeTick) -> None:
        self.count += 1
        fields: tuple[Any, ...] = (trade.ts_init, trade.price.raw)
        if self.count % 2:
            fields += (trade.size.raw, str(trade.trade_id))
        SEEN[str(self.id)].append(fields)
        if self.count % 3 == 0:
            self.kept.append(trade)
        if self.count % 4 == 0:
            self.prices.append(trade.price)

    def on_stop(self) -> None:
        SEEN[str(self.id) + ".kept"] = [
            (k.ts_init, k.price.raw, k.size.raw, str(k.trade_id)) for k in self.kept
        ]
        SEEN[str(self.id) + ".prices"] = [price.raw for price in self.prices]
        SEEN[str(self.id) + ".latest"] = [self.cache.trade(ID)]


def test_trades_let_go_or_kept_hold_their_own_fields() -> None:
    # A trade nobody keeps may serve as the next one (the loop renews it and its price in
    # place): each callback still sees its own row's fields, made on access or not, and a
    # kept trade or price never changes afterwards.
    SEEN.clear()
    times = [START_NS + 1_000 * (i + 1) for i in range(30)]
    trades = _trades(times)
    trades["size"] = 1_000 + np.arange(len(times))
    BacktestNode(_config("KeepSome"), instruments=[INSTRUMENT], sources=[[(TRADES, trades)]]).run()
    rows = [
        (int(r["ts_init"]), int(r["price"]), int(r["size"]), str(r["trade_id"])) for r in trades
    ]
    assert SEEN["KeepSome-001"] == [
        row if count % 2 else row[:2] for count, row in enumerate(rows, start=1)
    ]
    assert SEEN["KeepSome-001.kept"] == rows[2::3]
    assert SEEN["KeepSome-001.prices"] == [row[1] for row in rows[3::4]]
    latest = SEEN["KeepSome-001.latest"][0]
    assert (latest.ts_init, latest.price.raw, latest.size.raw, str(latest.trade_id)) == rows[-1]


class BuyOnTrades(Strategy[None]):
    """Send a market buy at the 3rd and 7th trades it hears; note each fill (time, price)."""

    def on_start(self) -> None:
        SEEN[str(self.id)] = []
        self.count = 0
        self.subscribe_trades(ID)

    def on_trade(self, trade: TradeTick) -> None:
        self.count += 1
        if self.count in (3, 7):
            self.submit_order(
                self.order_factory.market(ID, OrderSide.BUY, Quantity.from_raw(1_000, 5))
            )

    def on_order_filled(self, event: Any) -> None:
        SEEN[str(self.id)].append((event.ts_event, event.last_px.raw))


@pytest.mark.parametrize("entry_ns", [0, 2_500_000, 4_000_000])
@pytest.mark.parametrize("as_objects", [False, True])
def test_an_order_sent_by_a_listener_arrives_at_its_time_among_the_rows(
    entry_ns: int, as_objects: bool
) -> None:
    # A trade every ms, each one tick up; the book is built from the trades. An order sent
    # at a trade arrives after the entry latency and fills at the last trade before its
    # arrival (one at the very time comes after it; with no latency, the trade it was sent
    # at is in the book already): the loop keeps up with the venue's queue while the
    # strategy hears every row (the venue's next work is not read again after each).
    SEEN.clear()
    t = START_NS
    times = [t + 1_000_000 * (i + 1) for i in range(12)]
    trades = _trades(times)
    config = BacktestConfig(
        venues=[
            VenueConfig(account_type="MARGIN", latency=LatencyModelConfig(entry_ns=entry_ns))
        ],
        strategies=[StrategyConfig(path=f"{__name__}:BuyOnTrades", strategy_id="BuyOnTrades-001")],
    )
    rows: Any = list(trades_to_objects(trades, ID, 2, 5)) if as_objects else trades
    BacktestNode(config, instruments=[INSTRUMENT], sources=[[(TRADES, rows)]]).run()
    expected = []
    for sent in (times[2], times[6]):
        arrival = sent + entry_ns
        before = max(i for i, ts in enumerate(times) if ts < arrival or ts == sent)
        expected.append((arrival, int(trades["price"][before])))
    assert SEEN["BuyOnTrades-001"] == expected
