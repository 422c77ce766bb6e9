"""The DataEngine on a real backtest Kernel with a ReplayDataClient."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from zq.common import topics
from zq.common.component import ComponentState
from zq.common.topics import ENDPOINT_DATA_EXECUTE, ENDPOINT_DATA_PROCESS, ENDPOINT_DATA_REQUEST
from zq.data.arrays import DELTA_DTYPE, QUOTE_DTYPE, TRADE_DTYPE
from zq.data.client import DataClient, ReplayDataClient, Responder
from zq.data.engine import DataEngine
from zq.data.messages import (
    RequestBars,
    RequestQuotes,
    RequestTrades,
    SubscribeBars,
    SubscribeBookDeltas,
    SubscribeBookDepth,
    SubscribeBookSnapshots,
    SubscribeInstrumentStatus,
    SubscribeQuotes,
    SubscribeTopOfBook,
    SubscribeTrades,
    UnsubscribeBars,
    UnsubscribeBookDeltas,
    UnsubscribeBookSnapshots,
    UnsubscribeQuotes,
    UnsubscribeTopOfBook,
    UnsubscribeTrades,
)
from zq.kernel import Kernel, KernelConfig
from zq.model.currency import Currency
from zq.model.data import (
    Bar,
    BarType,
    BookFlags,
    BookLevel,
    InstrumentStatus,
    OrderBookDelta,
    OrderBookDepth,
    QuoteTick,
    TradeTick,
)
from zq.model.enums import (
    AggressorSide,
    AssetClass,
    BookAction,
    BookType,
    Environment,
    MarketStatus,
    OrderSide,
)
from zq.model.identifiers import InstrumentId, TradeId
from zq.model.instruments import CurrencyPair
from zq_core.book import L2Book, L3Book
from zq_core.bus import UnknownEndpointError
from zq_core.fixed import Price, Quantity

BTC = InstrumentId("BTCUSDT.BINANCE")
ETH = InstrumentId("ETHUSDT.BINANCE")
ES = InstrumentId("ESH4.GLBX")
MS = 1_000_000
SECOND = 1_000_000_000
LAST = int(BookFlags.LAST)
P = Price.from_str
Q = Quantity.from_str


def quote(instrument_id: InstrumentId = BTC, ts: int = 1, bid: str = "100.00") -> QuoteTick:
    return QuoteTick(instrument_id, P(bid), P("100.10"), Q("1.0"), Q("2.0"), ts, ts)


def trade(instrument_id: InstrumentId = BTC, ts: int = 1, price: str = "100.00") -> TradeTick:
    return TradeTick(
        instrument_id, P(price), Q("0.5"), AggressorSide.BUYER, TradeId(f"T{ts}"), ts, ts
    )


def delta(
    side: OrderSide,
    price: str,
    size: str,
    ts: int,
    action: BookAction = BookAction.ADD,
    flags: int = LAST,
    order_id: int = 0,
    instrument_id: InstrumentId = BTC,
) -> OrderBookDelta:
    return OrderBookDelta(
        instrument_id, action, side, P(price), Q(size), order_id, flags, ts, ts, ts
    )


def btc_instrument() -> CurrencyPair:
    return CurrencyPair(
        id=BTC,
        raw_symbol="BTCUSDT",
        asset_class=AssetClass.CRYPTOCURRENCY,
        quote_currency=Currency.from_str("USDT"),
        base_currency=Currency.from_str("BTC"),
        price_increment=P("0.01"),
        size_increment=Q("0.1"),
    )


class Backtest:
    """A backtest kernel, its DataEngine, a replay client, and a log of what a strategy got."""

    def __init__(self, start: bool = True, **client_options: Any) -> None:
        self.kernel = Kernel()
        self.bus = self.kernel.bus
        self.clock = self.kernel.clock
        self.cache = self.kernel.cache
        self.engine = DataEngine(self.clock, self.bus, self.cache)
        self.kernel.add_component(self.engine)
        self.client = ReplayDataClient(**client_options)
        self.engine.register_client(self.client)
        self.received: list[Any] = []
        if start:
            self.kernel.start()

    def send(self, command: Any) -> None:
        self.bus.send(ENDPOINT_DATA_EXECUTE, command)

    def listen(self, topic: str) -> list[Any]:
        self.bus.subscribe(topic, self.received.append)
        return self.received

    def request(self, payload: Any) -> list[Any]:
        responses: list[Any] = []
        self.bus.request(ENDPOINT_DATA_REQUEST, payload, responses.append)
        return responses


# -- subscriptions ------------------------------------------------------------------------


def test_two_subscribers_share_one_client_subscription_and_the_last_unsubscribe_ends_it():
    bt = Backtest()
    bt.send(SubscribeQuotes(BTC, "S-1"))
    bt.send(SubscribeQuotes(BTC, "S-2"))
    assert bt.client.calls == [("subscribe", "quotes", BTC)]
    bt.send(UnsubscribeQuotes(BTC, "S-1"))
    assert bt.client.subscriptions == {("quotes", BTC)}
    bt.send(UnsubscribeQuotes(BTC, "S-2"))
    assert bt.client.calls == [("subscribe", "quotes", BTC), ("unsubscribe", "quotes", BTC)]
    assert bt.client.subscriptions == set()


def test_subscribing_twice_with_the_same_command_is_one_subscription():
    bt = Backtest()
    bt.send(SubscribeTrades(BTC, "S-1"))
    bt.send(SubscribeTrades(BTC, "S-1"))
    bt.send(UnsubscribeTrades(BTC, "S-1"))
    assert bt.client.subscriptions == set()
    assert bt.engine.subscriptions() == []


def test_unsubscribing_what_is_not_subscribed_does_nothing():
    bt = Backtest()
    bt.send(SubscribeTrades(BTC, "S-1"))
    bt.send(UnsubscribeTrades(BTC, "S-2"))  # another subscriber: not S-1's subscription
    bt.send(UnsubscribeQuotes(BTC, "S-1"))
    assert bt.client.calls == [("subscribe", "trades", BTC)]
    assert bt.engine.subscriptions() == [SubscribeTrades(BTC, "S-1")]


def test_an_internal_bar_subscription_shares_the_trade_stream_with_trade_subscribers():
    bt = Backtest()
    minute = BarType.from_str("BTCUSDT.BINANCE-1-MINUTE-LAST-INTERNAL")
    bt.send(SubscribeTrades(BTC, "S-1"))
    bt.send(SubscribeBars(minute, "S-2"))
    bt.send(UnsubscribeTrades(BTC, "S-1"))
    assert bt.client.subscriptions == {("trades", BTC)}  # the aggregator still needs them
    bt.send(UnsubscribeBars(minute, "S-2"))
    assert bt.client.calls == [("subscribe", "trades", BTC), ("unsubscribe", "trades", BTC)]


def test_an_external_bar_subscription_asks_the_client_for_its_bars():
    bt = Backtest()
    external = BarType.from_str("BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL")
    bt.send(SubscribeBars(external, "S-1"))
    assert bt.client.subscriptions == {("bars", external)}
    assert bt.engine.bar_aggregator(external) is None


def test_the_other_streams_are_subscribed_at_the_client_too():
    bt = Backtest()
    bt.send(SubscribeBookDepth(BTC, "S-1"))
    bt.send(SubscribeInstrumentStatus(BTC, "S-1"))
    assert bt.client.subscriptions == {("book_depth", BTC), ("instrument_status", BTC)}


def test_subscriptions_made_before_start_reach_the_client_at_start():
    bt = Backtest(start=False)
    bt.send(SubscribeQuotes(BTC, "S-1"))
    assert bt.client.calls == []
    bt.kernel.start()
    assert bt.client.calls == [("subscribe", "quotes", BTC)]
    assert bt.client.state is ComponentState.RUNNING


def test_stopping_the_engine_unsubscribes_the_client_and_resuming_subscribes_again():
    bt = Backtest()
    bt.send(SubscribeQuotes(BTC, "S-1"))
    bt.kernel.stop()
    assert bt.client.subscriptions == set() and bt.client.is_stopped
    assert bt.engine.subscriptions() == [SubscribeQuotes(BTC, "S-1")]  # still held
    bt.kernel.resume()
    assert bt.client.subscriptions == {("quotes", BTC)} and bt.client.is_running


def test_reset_forgets_every_subscription():
    bt = Backtest()
    bt.send(SubscribeQuotes(BTC, "S-1"))
    bt.send(SubscribeBookDeltas(BTC, BookType.L2_MBP, "S-1"))
    bt.kernel.stop()
    bt.kernel.reset()
    assert bt.engine.subscriptions() == [] and bt.engine.order_book(BTC) is None
    bt.kernel.start()
    assert bt.client.subscriptions == set()


def test_dispose_deregisters_the_engine_endpoints():
    bt = Backtest()
    bt.kernel.stop()
    bt.kernel.dispose()
    assert bt.engine.is_disposed and bt.client.is_disposed
    with pytest.raises(UnknownEndpointError):
        bt.send(SubscribeQuotes(BTC, "S-1"))


def test_each_venue_is_served_by_its_own_client():
    bt = Backtest()  # the replay client serves every unclaimed venue
    glbx = ReplayDataClient("GLBX-DATA", venue="GLBX")
    bt.engine.register_client(glbx)
    assert glbx.is_running  # registered with a running engine: started at once
    bt.send(SubscribeTrades(ES, "S-1"))
    bt.send(SubscribeTrades(BTC, "S-1"))
    assert glbx.subscriptions == {("trades", ES)}
    assert bt.client.subscriptions == {("trades", BTC)}


def test_a_subscription_for_a_venue_without_a_client_is_refused():
    kernel = Kernel()
    engine = DataEngine(kernel.clock, kernel.bus, kernel.cache)
    engine.register_client(ReplayDataClient("BINANCE-DATA", venue="BINANCE"))
    with pytest.raises(LookupError, match="no data client serves venue GLBX"):
        kernel.bus.send(ENDPOINT_DATA_EXECUTE, SubscribeTrades(ES, "S-1"))
    assert engine.subscriptions() == []


def test_a_second_client_for_the_same_venue_is_refused():
    bt = Backtest()
    bt.engine.register_client(ReplayDataClient("A", venue="GLBX"))
    with pytest.raises(ValueError, match="already served by data client 'A'"):
        bt.engine.register_client(ReplayDataClient("B", venue="GLBX"))
    with pytest.raises(ValueError, match="serves every venue"):
        bt.engine.register_client(ReplayDataClient("C"))


def test_a_stream_the_client_does_not_serve_is_refused_and_not_held():
    bt = Backtest()
    bt.engine.register_client(DataClient("BARE", venue="GLBX"))
    with pytest.raises(NotImplementedError, match="'BARE' does not serve quotes"):
        bt.send(SubscribeQuotes(ES, "S-1"))
    assert bt.engine.subscriptions() == []


def test_an_unknown_command_is_refused():
    bt = Backtest()
    with pytest.raises(TypeError, match="cannot execute a str"):
        bt.send("subscribe me")


# -- the data path ------------------------------------------------------------------------


def test_the_cache_is_updated_before_a_quote_or_trade_is_published():
    bt = Backtest()
    checked: list[bool] = []
    bt.bus.subscribe(topics.quotes(BTC), lambda q: checked.append(bt.cache.quote(BTC) is q))
    bt.bus.subscribe(topics.trades(BTC), lambda t: checked.append(bt.cache.trade(BTC) is t))
    bt.send(SubscribeQuotes(BTC, "S-1"))
    bt.send(SubscribeTrades(BTC, "S-1"))
    bt.client.add_data([quote(ts=1), trade(ts=2), quote(ts=3, bid="99.00"), trade(ts=4)])
    assert bt.client.replay() == 4
    assert checked == [True, True, True, True]


def test_the_cache_is_updated_before_a_bar_is_published():
    bt = Backtest()
    ticks = BarType.from_str("BTCUSDT.BINANCE-2-TICK-LAST-INTERNAL")
    checked: list[bool] = []
    bt.bus.subscribe(topics.bars(ticks), lambda b: checked.append(bt.cache.bar(ticks) is b))
    bt.send(SubscribeBars(ticks, "S-1"))
    bt.client.add_data([trade(ts=t) for t in range(1, 5)])
    bt.client.replay()
    assert checked == [True, True]


def test_external_bars_are_cached_and_published():
    bt = Backtest()
    external = BarType.from_str("BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL")
    bar = Bar(external, P("1"), P("2"), P("1"), P("2"), Q("5"), 60 * SECOND, 60 * SECOND)
    received = bt.listen(topics.bars(external))
    bt.send(SubscribeBars(external, "S-1"))
    bt.client.add_data([bar])
    bt.client.replay()
    assert received == [bar] and bt.cache.bar(external) is bar


def test_data_of_unsubscribed_streams_is_not_replayed():
    bt = Backtest()
    received = bt.listen("data.*")
    bt.send(SubscribeQuotes(BTC, "S-1"))
    bt.client.add_data([quote(BTC, 1), trade(BTC, 2), quote(ETH, 3)])
    assert bt.client.replay() == 1
    assert received == [quote(BTC, 1)]


def test_replay_moves_the_clock_to_each_datum_before_it_is_processed():
    bt = Backtest()
    seen: list[tuple[int, int]] = []
    bt.bus.subscribe(
        topics.quotes(BTC), lambda q: seen.append((bt.clock.timestamp_ns(), q.ts_init))
    )
    bt.send(SubscribeQuotes(BTC, "S-1"))
    bt.client.add_data([quote(ts=30), quote(ts=10), quote(ts=20)])
    bt.client.replay(until_ns=25)
    assert seen == [(10, 10), (20, 20)] and bt.clock.timestamp_ns() == 25
    bt.client.replay()
    assert seen[-1] == (30, 30)


def test_instruments_status_and_venue_depth_are_published_on_their_topics():
    bt = Backtest()
    received = bt.listen("data.*")
    instrument = btc_instrument()
    status = InstrumentStatus(BTC, MarketStatus.HALT, 5, 5)
    depth = OrderBookDepth(BTC, (BookLevel(P("1.00"), Q("1")),), (), 1, 6, 6)
    bt.send(SubscribeInstrumentStatus(BTC, "S-1"))
    bt.send(SubscribeBookDepth(BTC, "S-1"))
    bt.client.add_data([instrument, status, depth])
    bt.client.replay()
    assert received == [instrument, status, depth]
    assert bt.cache.instrument(BTC) is instrument
    assert [s.pattern for s in bt.bus.subscribers(topics.instruments(BTC))] == ["data.*"]


def test_data_can_be_sent_to_the_engine_through_the_bus():
    bt = Backtest()
    bt.bus.send(ENDPOINT_DATA_PROCESS, quote())
    assert bt.cache.quote(BTC) == quote()


def test_something_that_is_not_market_data_is_refused():
    bt = Backtest()
    with pytest.raises(TypeError, match="cannot process a dict"):
        bt.engine.process({"bid": 1})


def test_a_trade_array_is_processed_like_trade_objects():
    bt = Backtest()
    bt.cache.add_instrument(btc_instrument())
    received = bt.listen(topics.trades(BTC))
    rows = np.zeros(2, dtype=TRADE_DTYPE)
    rows["ts_event"] = rows["ts_init"] = [1, 2]
    rows["price"] = [10_000, 10_001]
    rows["size"] = [5, 7]
    rows["trade_id"] = [1, 2]
    rows["aggressor_side"] = 1
    bt.engine.process_array(rows, BTC)
    assert [(str(t.price), str(t.size)) for t in received] == [("100.00", "0.5"), ("100.01", "0.7")]
    assert bt.cache.trade(BTC) == received[-1]


def test_a_quote_array_needs_precisions_from_the_caller_or_the_cache():
    bt = Backtest()
    rows = np.zeros(1, dtype=QUOTE_DTYPE)
    with pytest.raises(ValueError, match="add the instrument to the cache"):
        bt.engine.process_array(rows, BTC)
    bt.engine.process_array(rows, BTC, 2, 1)
    assert bt.cache.quote(BTC) is not None


# -- books --------------------------------------------------------------------------------


def test_one_book_per_subscribed_instrument_updated_before_the_delta_is_published():
    bt = Backtest()
    seen: list[tuple[Any, Any]] = []

    def on_delta(d: OrderBookDelta) -> None:
        book = bt.engine.order_book(d.instrument_id)
        seen.append((book.best_bid_price(), book.best_ask_price()))

    bt.bus.subscribe(topics.book_deltas(BTC), on_delta)
    bt.send(SubscribeBookDeltas(BTC, BookType.L2_MBP, "S-1"))
    bt.send(SubscribeBookDeltas(BTC, BookType.L2_MBP, "S-2"))
    bt.send(SubscribeBookDeltas(ETH, BookType.L3_MBO, "S-1"))
    bt.client.add_data(
        [
            delta(OrderSide.BUY, "100.00", "1.0", 1),
            delta(OrderSide.SELL, "100.50", "2.0", 2),
            delta(OrderSide.BUY, "100.10", "1.0", 3),
        ]
    )
    bt.client.replay()
    assert seen == [(P("100.00"), None), (P("100.00"), P("100.50")), (P("100.10"), P("100.50"))]
    assert isinstance(bt.engine.order_book(BTC), L2Book)
    assert bt.engine.order_book(ETH) is None  # built on its first delta
    bt.client.add_data([delta(OrderSide.BUY, "10.00", "1.0", 9, order_id=7, instrument_id=ETH)])
    bt.client.replay()
    assert isinstance(bt.engine.order_book(ETH), L3Book)
    assert bt.client.calls.count(("subscribe", "book_deltas", BTC)) == 1


def test_a_book_of_a_cached_instrument_is_built_at_once_at_its_precision():
    bt = Backtest()
    bt.cache.add_instrument(btc_instrument())
    bt.send(SubscribeBookDeltas(BTC, BookType.L2_MBP, "S-1"))
    book = bt.engine.order_book(BTC)
    assert (book.price_precision, book.size_precision) == (2, 1)


def test_a_second_book_type_for_the_same_instrument_is_refused():
    bt = Backtest()
    bt.send(SubscribeBookDeltas(BTC, BookType.L2_MBP, "S-1"))
    with pytest.raises(ValueError, match="keeps an L2_MBP book"):
        bt.send(SubscribeBookDeltas(BTC, BookType.L3_MBO, "S-2"))


def test_the_last_book_subscriber_leaving_drops_the_book_and_the_client_stream():
    bt = Backtest()
    bt.send(SubscribeBookDeltas(BTC, BookType.L2_MBP, "S-1"))
    bt.send(SubscribeTopOfBook(BTC, BookType.L2_MBP, 1, "S-2"))
    bt.client.add_data([delta(OrderSide.BUY, "100.00", "1.0", 1)])
    bt.client.replay()
    bt.send(UnsubscribeBookDeltas(BTC, BookType.L2_MBP, "S-1"))
    assert bt.engine.order_book(BTC) is not None
    bt.send(UnsubscribeTopOfBook(BTC, BookType.L2_MBP, 1, "S-2"))
    assert bt.engine.order_book(BTC) is None
    assert bt.client.calls[-1] == ("unsubscribe", "book_deltas", BTC)
    bt.send(SubscribeBookDeltas(BTC, BookType.L3_MBO, "S-1"))  # a new book type is free now


def test_book_snapshots_are_published_at_each_interval_boundary_from_the_clock():
    bt = Backtest()
    topic = topics.book_snapshots(BTC, 2, 100)
    got: list[tuple[int, OrderBookDepth]] = []
    bt.bus.subscribe(topic, lambda s: got.append((bt.clock.timestamp_ns(), s)))
    bt.clock.advance_time(30 * MS)
    bt.send(SubscribeBookSnapshots(BTC, BookType.L2_MBP, 2, 100, "S-1"))
    bt.client.add_data(
        [
            delta(OrderSide.BUY, "100.00", "1.0", 150 * MS),
            delta(OrderSide.BUY, "99.00", "1.0", 160 * MS),
            delta(OrderSide.BUY, "101.00", "3.0", 170 * MS),
            delta(OrderSide.SELL, "102.00", "2.0", 250 * MS),  # at the same time as a snapshot
        ]
    )
    bt.client.replay(until_ns=300 * MS)
    # 100 ms: no delta yet, no snapshot; 200 ms; 250 ms is not a boundary; 300 ms.
    assert [now for now, _ in got] == [200 * MS, 300 * MS]
    first = got[0][1]
    assert [(str(level.price), str(level.size)) for level in first.bids] == [
        ("101.00", "3.0"),
        ("100.00", "1.0"),
    ]
    assert first.asks == () and first.ts_event == 170 * MS and first.ts_init == 200 * MS
    assert [str(level.price) for level in got[1][1].asks] == ["102.00"]


def test_snapshot_timers_stop_with_the_last_subscriber():
    bt = Backtest()
    bt.send(SubscribeBookSnapshots(BTC, BookType.L2_MBP, 5, 1000, "S-1"))
    bt.send(SubscribeBookSnapshots(BTC, BookType.L2_MBP, 5, 1000, "S-2"))
    assert bt.clock.timer_names == ["DataEngine.book_snapshots.BTCUSDT.BINANCE.5.1000"]
    bt.send(UnsubscribeBookSnapshots(BTC, BookType.L2_MBP, 5, 1000, "S-1"))
    assert len(bt.clock.timer_names) == 1
    bt.send(UnsubscribeBookSnapshots(BTC, BookType.L2_MBP, 5, 1000, "S-2"))
    assert bt.clock.timer_names == []


def test_top_of_book_is_published_when_the_top_levels_change_at_the_end_of_an_event():
    bt = Backtest()
    received = bt.listen(topics.book_top(BTC, 1))
    bt.send(SubscribeTopOfBook(BTC, BookType.L2_MBP, 1, "S-1"))
    bt.client.add_data(
        [
            delta(OrderSide.BUY, "100.00", "1.0", 1),
            delta(OrderSide.BUY, "99.00", "1.0", 2),  # below the top: no change
            delta(OrderSide.BUY, "100.00", "3.0", 3, BookAction.UPDATE, flags=0),  # mid-event
            delta(OrderSide.SELL, "101.00", "1.0", 3),  # the event ends here
        ]
    )
    bt.client.replay()
    assert [
        ([(str(b.price), str(b.size)) for b in s.bids], [str(a.price) for a in s.asks])
        for s in received
    ] == [([("100.00", "1.0")], []), ([("100.00", "3.0")], ["101.00"])]


def test_a_delta_array_is_applied_to_the_book_in_one_batch():
    bt = Backtest()
    bt.cache.add_instrument(btc_instrument())
    bt.send(SubscribeBookDeltas(BTC, BookType.L2_MBP, "S-1"))
    bt.send(SubscribeTopOfBook(BTC, BookType.L2_MBP, 1, "S-2"))
    tops = bt.listen(topics.book_top(BTC, 1))
    rows = np.zeros(3, dtype=DELTA_DTYPE)
    rows["ts_event"] = rows["ts_init"] = [5, 6, 7]
    rows["price"] = [10_000, 10_100, 10_050]
    rows["size"] = [10, 20, 30]
    rows["side"] = [1, 2, 1]
    rows["action"] = 1
    rows["sequence"] = [1, 2, 3]
    bt.client.add_array(rows, BTC, 2, 1)
    assert bt.client.replay() == 3
    book = bt.engine.order_book(BTC)
    assert book.bids(5) == [(P("100.50"), Q("3.0")), (P("100.00"), Q("1.0"))]
    assert len(tops) == 3  # one batch per time: each row is its own time here
    deltas: list[OrderBookDelta] = []
    bt.bus.subscribe(topics.book_deltas(BTC), deltas.append)
    bt.engine.process_array(rows[:1], BTC)  # someone listens now: objects are published
    assert [d.price for d in deltas] == [P("100.00")]


# -- historical requests ------------------------------------------------------------------


def test_a_request_answered_at_once_returns_the_data_in_range():
    bt = Backtest()
    bt.client.add_data([trade(ts=t) for t in (5, 10, 15, 20)] + [quote(ts=12)])
    bt.clock.advance_time(100)
    responses = bt.request(RequestTrades(BTC, 10, 15))
    assert [t.ts_event for t in responses[0].payload] == [10, 15]
    assert [q.ts_event for q in bt.request(RequestQuotes(BTC, 0))[0].payload] == [12]


def test_a_request_answered_later_reaches_the_requester_when_the_client_answers():
    bt = Backtest(response_delay_ns=50)
    bt.client.add_data([trade(ts=t) for t in (5, 10)])
    bt.clock.advance_time(20)
    responses = bt.request(RequestTrades(BTC, 0))
    assert responses == [] and bt.bus.pending_requests == 1
    bt.clock.advance_time(70)
    assert [t.ts_event for t in responses[0].payload] == [5, 10]
    assert bt.bus.pending_requests == 0


def test_a_deferred_answer_from_a_custom_client_is_forwarded():
    class SlowClient(DataClient):
        def __init__(self) -> None:
            super().__init__("SLOW", venue="BINANCE")
            self.pending: list[Responder] = []

        def request_trades(self, request: RequestTrades, respond: Responder) -> None:
            self.pending.append(respond)

    kernel = Kernel()
    engine = DataEngine(kernel.clock, kernel.bus, kernel.cache)
    client = SlowClient()
    engine.register_client(client)
    kernel.clock.advance_time(100)
    responses: list[Any] = []
    kernel.bus.request(ENDPOINT_DATA_REQUEST, RequestTrades(BTC, 0, limit=1), responses.append)
    assert responses == []
    client.pending[0]([trade(ts=2), trade(ts=1)])
    assert [t.ts_event for t in responses[0].payload] == [2]  # sorted, then the last one


def test_a_request_never_returns_data_the_node_could_not_know_yet():
    bt = Backtest()
    bt.client.add_data([trade(ts=t) for t in (5, 10, 15)])
    bt.clock.advance_time(10)
    assert [t.ts_init for t in bt.request(RequestTrades(BTC, 0, 100))[0].payload] == [5, 10]


def test_a_request_limit_keeps_the_latest_items():
    bt = Backtest()
    bt.client.add_data([trade(ts=t) for t in (5, 10, 15)])
    bt.clock.advance_time(100)
    assert [t.ts_init for t in bt.request(RequestTrades(BTC, 0, limit=2))[0].payload] == [10, 15]


def test_external_bars_are_requested_from_the_client():
    bt = Backtest()
    external = BarType.from_str("BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL")
    bars = [
        Bar(external, P("1"), P("2"), P("1"), P("2"), Q("5"), t * 60 * SECOND, t * 60 * SECOND)
        for t in (1, 2, 3)
    ]
    bt.client.add_data(bars)
    bt.clock.advance_time(10 * 60 * SECOND)
    assert bt.request(RequestBars(external, 2 * 60 * SECOND))[0].payload == bars[1:]


@pytest.mark.asyncio
async def test_a_request_can_be_awaited():
    bt = Backtest()
    bt.client.add_data([trade(ts=3)])
    bt.clock.advance_time(5)
    result = await bt.bus.request_async(ENDPOINT_DATA_REQUEST, RequestTrades(BTC, 0))
    assert [t.ts_init for t in result] == [3]


def test_an_unknown_request_is_refused():
    bt = Backtest()
    with pytest.raises(TypeError, match="cannot answer a str"):
        bt.request("bars please")


def test_requests_validate_their_range():
    with pytest.raises(ValueError, match="end_ns 1 is before start_ns 2"):
        RequestTrades(BTC, 2, 1)
    with pytest.raises(ValueError, match="limit must not be negative"):
        RequestQuotes(BTC, 0, limit=-1)
    with pytest.raises(ValueError, match="interval_ms must be positive"):
        SubscribeBookSnapshots(BTC, BookType.L2_MBP, 5, 0, "S-1")
    with pytest.raises(ValueError, match="depth must be positive"):
        SubscribeTopOfBook(BTC, BookType.L2_MBP, 0, "S-1")


def test_replay_needs_a_registered_client_and_a_backtest_clock():
    client = ReplayDataClient()
    with pytest.raises(RuntimeError, match="not registered with a DataEngine"):
        client.replay()
    kernel = Kernel(KernelConfig(environment=Environment.LIVE))
    DataEngine(kernel.clock, kernel.bus, kernel.cache).register_client(client)
    with pytest.raises(TypeError, match="needs a backtest engine"):
        client.replay()


# -- live ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_on_a_live_clock_a_time_bar_is_published_by_a_loop_alert_after_its_close():
    kernel = Kernel(KernelConfig(environment=Environment.LIVE))
    engine = DataEngine(kernel.clock, kernel.bus, kernel.cache)
    kernel.add_component(engine)
    engine.register_client(ReplayDataClient())
    kernel.start()
    bars = BarType.from_str("BTCUSDT.BINANCE-20-MILLISECOND-LAST-INTERNAL")
    done = asyncio.Event()
    published: list[tuple[int, Bar]] = []

    def on_bar(bar: Bar) -> None:
        published.append((time.time_ns(), bar))
        done.set()

    kernel.bus.subscribe(topics.bars(bars), on_bar)
    kernel.bus.send(ENDPOINT_DATA_EXECUTE, SubscribeBars(bars, "S-1"))
    now = kernel.clock.timestamp_ns()
    engine.process(trade(ts=now))
    await asyncio.wait_for(done.wait(), timeout=10)
    ((published_ns, bar),) = published
    close = now - now % (20 * MS) + 20 * MS
    assert bar.ts_event == close and published_ns >= close and bar.ts_init >= close
    kernel.stop()


# -- the compiled quote feed (a live data client's quotes) ---------------------------------


def _feed_run(use_feed: bool, bars: bool) -> tuple[list[Any], Any, int]:
    """Quotes of two instruments through the feed or process_quote; what a subscriber got,
    the cache's latest BTC quote, and the feed's count (0 without it)."""
    from zq_core.quote_feed import QuoteFeed

    bt = Backtest()
    received = bt.listen(topics.quotes(BTC))
    bt.bus.subscribe(topics.quotes(ETH), received.append)
    if bars:
        bt.send(SubscribeBars(BarType.from_str("BTCUSDT.BINANCE-2-TICK-MID-INTERNAL"), "S-1"))
        bt.bus.subscribe("data.bars.*", received.append)
    feed = QuoteFeed(lambda q: (bt.engine.bind_quote_feed(feed), bt.engine.process_quote(q)))
    take = feed if use_feed else bt.engine.process_quote
    for ts in range(1, 7):
        take(quote(BTC, ts, f"100.{ts:02d}"))
        take(quote(ETH, ts, f"200.{ts:02d}"))
    return received, bt.cache.quote(BTC), feed.count


@pytest.mark.parametrize("bars", [False, True])
def test_the_quote_feed_does_what_process_quote_does(bars: bool):
    # The reference is the engine's own Python path on a second, identical kernel.
    fed, fed_latest, count = _feed_run(True, bars)
    processed, latest, _ = _feed_run(False, bars)
    assert fed == processed
    assert fed_latest == latest == quote(BTC, 6, "100.06")
    assert count == 12
    if bars:  # two-tick mid bars of BTC: three of them from six quotes
        assert sum(1 for item in fed if not isinstance(item, QuoteTick)) == 3


def test_a_bound_feed_publishes_in_c_and_an_unbound_one_falls_back():
    from zq_core.quote_feed import QuoteFeed

    bt = Backtest()
    received = bt.listen(topics.quotes(BTC))
    fallen: list[QuoteTick] = []
    feed = QuoteFeed(fallen.append)
    feed(quote(BTC, 1))
    assert (fallen, received, feed.bound) == ([quote(BTC, 1)], [], False)
    bt.engine.bind_quote_feed(feed)
    assert feed.bound and feed.fallback == bt.engine.process_quote
    feed(quote(BTC, 2))  # topic not recorded yet: process_quote records it
    feed(quote(BTC, 3))  # through the feed's own path
    assert received == [quote(BTC, 2), quote(BTC, 3)]
    assert bt.cache.quote(BTC) == quote(BTC, 3)
    assert feed.count == 3


def test_a_cache_with_its_own_add_quote_keeps_every_quote_on_process_quote():
    from zq.cache import Cache
    from zq_core.quote_feed import QuoteFeed

    class CountingCache(Cache):
        added = 0

        def add_quote(self, quote: QuoteTick) -> None:
            CountingCache.added += 1
            super().add_quote(quote)

    from zq.common.clock import TestClock
    from zq_core.bus import MessageBus

    engine = DataEngine(TestClock(), MessageBus(), CountingCache())
    feed = QuoteFeed(engine.process_quote)
    engine.bind_quote_feed(feed)
    assert not feed.bound
    for ts in range(3):
        feed(quote(BTC, ts))
    assert CountingCache.added == 3
