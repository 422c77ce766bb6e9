"""Bar aggregation: each kind of bar, its boundary rules, and the no-look-ahead property.

The property tests replay random tick streams through a real backtest ``Kernel`` and its
``DataEngine`` and compare the bars a subscriber receives with a brute-force reference
aggregation written here, independently of ``zq.data.aggregation``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zq.common import topics
from zq.common.topics import ENDPOINT_DATA_EXECUTE, ENDPOINT_DATA_REQUEST
from zq.data.aggregation import (
    TickBarAggregator,
    TimeBarAggregator,
    ValueBarAggregator,
    VolumeBarAggregator,
    aggregate_bars,
    make_bar_aggregator,
    mid_price,
    mid_size,
)
from zq.data.client import ReplayDataClient
from zq.data.engine import DataEngine
from zq.data.messages import RequestBars, SubscribeBars, UnsubscribeBars
from zq.kernel import Kernel
from zq.model.data import Bar, BarType, QuoteTick, TradeTick
from zq.model.enums import AggregationSource, AggressorSide
from zq.model.identifiers import InstrumentId, TradeId
from zq_core.fixed import Price, Quantity

BTC = InstrumentId("BTCUSDT.BINANCE")
SECOND = 1_000_000_000
MINUTE = 60 * SECOND


def bar_type(text: str) -> BarType:
    return BarType.from_str(f"BTCUSDT.BINANCE-{text}-INTERNAL")


def trade(price: str, size: str, ts: int, ts_event: int | None = None) -> TradeTick:
    return TradeTick(
        BTC,
        Price.from_str(price),
        Quantity.from_str(size),
        AggressorSide.BUYER,
        TradeId(str(ts)),
        ts if ts_event is None else ts_event,
        ts,
    )


def quote(bid: str, ask: str, bid_size: str, ask_size: str, ts: int) -> QuoteTick:
    return QuoteTick(
        BTC,
        Price.from_str(bid),
        Price.from_str(ask),
        Quantity.from_str(bid_size),
        Quantity.from_str(ask_size),
        ts,
        ts,
    )


def ohlcv(bar: Bar) -> tuple[str, str, str, str, str]:
    return (str(bar.open), str(bar.high), str(bar.low), str(bar.close), str(bar.volume))


def collect(aggregator_class: Callable[..., Any], text: str) -> tuple[Any, list[Bar]]:
    bars: list[Bar] = []
    return aggregator_class(bar_type(text), bars.append), bars


# -- tick bars ----------------------------------------------------------------------------


def test_tick_bar_closes_on_its_nth_tick_stamped_with_that_tick():
    aggregator, bars = collect(TickBarAggregator, "3-TICK-LAST")
    for i, price in enumerate(["10", "12", "9", "11", "13"]):
        aggregator.handle(trade(price, "1", 100 + i, ts_event=90 + i))
    assert [ohlcv(b) for b in bars] == [("10", "12", "9", "9", "3")]
    assert (bars[0].ts_event, bars[0].ts_init) == (92, 102)
    assert bars[0].bar_type.source is AggregationSource.INTERNAL
    assert aggregator.has_open_bar


# -- volume bars --------------------------------------------------------------------------


def test_volume_bar_closes_when_its_volume_reaches_the_step_exactly():
    aggregator, bars = collect(VolumeBarAggregator, "5-VOLUME-LAST")
    aggregator.handle(trade("10", "2", 1))
    aggregator.handle(trade("11", "3", 2))
    assert [ohlcv(b) for b in bars] == [("10", "11", "10", "11", "5")]
    assert not aggregator.has_open_bar


def test_volume_bar_splits_the_tick_that_overshoots_into_the_next_bar():
    aggregator, bars = collect(VolumeBarAggregator, "5-VOLUME-LAST")
    aggregator.handle(trade("10", "4", 1))
    aggregator.handle(trade("11", "3.5", 2))  # 1 fills the first bar, 2.5 opens the next
    aggregator.handle(trade("9", "2.5", 3))
    assert [ohlcv(b) for b in bars] == [
        ("10", "11", "10", "11", "5.0"),
        ("11", "11", "9", "9", "5.0"),
    ]
    assert [b.ts_init for b in bars] == [2, 3]


def test_a_tick_of_several_steps_makes_several_volume_bars_at_its_price():
    aggregator, bars = collect(VolumeBarAggregator, "2-VOLUME-LAST")
    aggregator.handle(trade("10", "1", 1))
    aggregator.handle(trade("12", "5.5", 2))
    assert [ohlcv(b) for b in bars] == [
        ("10", "12", "10", "12", "2.0"),
        ("12", "12", "12", "12", "2.0"),
        ("12", "12", "12", "12", "2.0"),
    ]
    assert aggregator.has_open_bar  # 0.5 left over
    assert all(b.volume == Quantity.from_int(2) for b in bars)


# -- value bars ---------------------------------------------------------------------------


def test_value_bar_closes_on_the_tick_that_reaches_the_step_without_splitting_it():
    aggregator, bars = collect(ValueBarAggregator, "1000-VALUE-LAST")
    aggregator.handle(trade("100.5", "4", 1))  # 402
    aggregator.handle(trade("101", "6", 2))  # 402 + 606 = 1008: closes, not split
    aggregator.handle(trade("99", "1", 3))
    assert [ohlcv(b) for b in bars] == [("100.5", "101", "100.5", "101", "10")]
    assert aggregator.value == Decimal("99")  # the next bar starts from zero


def test_value_uses_exact_decimal_arithmetic():
    aggregator, bars = collect(ValueBarAggregator, "1-VALUE-LAST")
    aggregator.handle(trade("0.1", "3", 1))  # 0.3: no float rounding
    aggregator.handle(trade("0.7", "1", 2))  # exactly 1.0
    assert len(bars) == 1


# -- time bars ----------------------------------------------------------------------------


def test_time_bar_is_stamped_at_its_close_and_built_from_its_interval_only():
    aggregator, bars = collect(TimeBarAggregator, "1-MINUTE-LAST")
    aggregator.handle(trade("10", "1", MINUTE + 5))
    aggregator.handle(trade("11", "1", 2 * MINUTE - 1))
    assert bars == [] and aggregator.close_ns == 2 * MINUTE
    aggregator.close_until(2 * MINUTE - 1)
    assert bars == []  # not before its close
    aggregator.close_until(2 * MINUTE)
    assert [ohlcv(b) for b in bars] == [("10", "11", "10", "11", "2")]
    assert (bars[0].ts_event, bars[0].ts_init) == (2 * MINUTE, 2 * MINUTE)


def test_a_tick_at_exactly_the_close_belongs_to_the_next_time_bar():
    aggregator, bars = collect(TimeBarAggregator, "1-MINUTE-LAST")
    aggregator.handle(trade("10", "1", 0))
    aggregator.handle(trade("20", "1", MINUTE))  # closes [0, 1m) first, then opens [1m, 2m)
    assert [ohlcv(b) for b in bars] == [("10", "10", "10", "10", "1")]
    assert bars[0].ts_init == MINUTE  # built when the tick showed the time had come
    assert aggregator.close_ns == 2 * MINUTE


def test_an_interval_without_ticks_produces_no_bar():
    aggregator, bars = collect(TimeBarAggregator, "1-MINUTE-LAST")
    aggregator.handle(trade("10", "1", 10))
    aggregator.close_until(MINUTE)
    aggregator.close_until(5 * MINUTE)  # four empty minutes
    aggregator.handle(trade("11", "1", 5 * MINUTE + 1))
    aggregator.close_until(6 * MINUTE)
    assert [b.ts_event for b in bars] == [MINUTE, 6 * MINUTE]


def test_a_late_tick_goes_to_the_next_bar_never_into_a_bar_already_built():
    aggregator, bars = collect(TimeBarAggregator, "1-MINUTE-LAST")
    aggregator.handle(trade("10", "1", 10))
    aggregator.close_until(MINUTE)
    aggregator.handle(trade("11", "1", MINUTE - 1))  # received late
    aggregator.close_until(2 * MINUTE)
    assert [(b.ts_event, str(b.open)) for b in bars] == [(MINUTE, "10"), (2 * MINUTE, "11")]


def test_time_bars_align_on_multiples_of_the_interval_since_the_epoch():
    aggregator, _ = collect(TimeBarAggregator, "15-SECOND-LAST")
    aggregator.handle(trade("10", "1", 7 * SECOND))
    assert aggregator.close_ns == 15 * SECOND
    aggregator.close_until(15 * SECOND)
    aggregator.handle(trade("10", "1", 44 * SECOND))
    assert aggregator.close_ns == 45 * SECOND


def test_time_aggregator_tells_its_owner_when_a_bar_opens():
    opened: list[int] = []
    aggregator = TimeBarAggregator(bar_type("1-SECOND-LAST"), lambda bar: None, opened.append)
    aggregator.handle(trade("10", "1", 1))
    aggregator.handle(trade("10", "1", 2))
    aggregator.handle(trade("10", "1", SECOND + 3))
    assert opened == [SECOND, 2 * SECOND]


# -- quotes -------------------------------------------------------------------------------


def test_bid_and_ask_bars_take_the_side_price_and_size():
    bid, bid_bars = collect(TickBarAggregator, "2-TICK-BID")
    ask, ask_bars = collect(TickBarAggregator, "2-TICK-ASK")
    for q in (quote("10.0", "10.2", "1", "2", 1), quote("10.1", "10.3", "3", "4", 2)):
        bid.handle(q)
        ask.handle(q)
    assert ohlcv(bid_bars[0]) == ("10.0", "10.1", "10.0", "10.1", "4")
    assert ohlcv(ask_bars[0]) == ("10.2", "10.3", "10.2", "10.3", "6")


def test_mid_price_and_size_are_exact_with_one_more_decimal():
    q = quote("10.1", "10.2", "1", "2", 1)
    assert str(mid_price(q)) == "10.15" and str(mid_size(q)) == "1.5"
    mid, bars = collect(TickBarAggregator, "1-TICK-MID")
    mid.handle(q)
    assert ohlcv(bars[0]) == ("10.15", "10.15", "10.15", "10.15", "1.5")


def test_mid_at_the_largest_precision_rounds_half_to_even():
    q = quote("0.000000001", "0.000000002", "1", "1", 1)
    assert str(mid_price(q)) == "0.000000002"


def test_a_quote_bar_refuses_trades_and_a_trade_bar_refuses_quotes():
    last, _ = collect(TickBarAggregator, "1-TICK-LAST")
    bid, _ = collect(TickBarAggregator, "1-TICK-BID")
    with pytest.raises(TypeError, match="built from trades"):
        last.handle(quote("1", "2", "1", "1", 1))
    with pytest.raises(TypeError, match="built from quotes"):
        bid.handle(trade("1", "1", 1))


def test_only_internal_bar_types_are_aggregated():
    external = BarType.from_str("BTCUSDT.BINANCE-1-MINUTE-LAST-EXTERNAL")
    with pytest.raises(ValueError, match="source is EXTERNAL"):
        make_bar_aggregator(external, lambda bar: None)


def test_aggregator_kind_must_match_the_bar_type():
    with pytest.raises(ValueError, match="not a volume bar type"):
        VolumeBarAggregator(bar_type("1-TICK-LAST"), lambda bar: None)
    assert isinstance(make_bar_aggregator(bar_type("1-HOUR-LAST"), print), TimeBarAggregator)
    assert isinstance(make_bar_aggregator(bar_type("5-VALUE-MID"), print), ValueBarAggregator)


def test_reset_drops_the_open_bar():
    aggregator, bars = collect(TimeBarAggregator, "1-SECOND-LAST")
    aggregator.handle(trade("10", "1", 1))
    aggregator.reset()
    aggregator.close_until(10 * SECOND)
    assert bars == [] and aggregator.close_ns is None


def test_aggregate_bars_builds_historical_bars_as_a_clock_would_have():
    ticks = [trade("10", "1", 1), trade("11", "1", MINUTE + 1), trade("12", "1", 3 * MINUTE)]
    bars = aggregate_bars(bar_type("1-MINUTE-LAST"), ticks, until_ns=3 * MINUTE + 5)
    assert [(b.ts_event, b.ts_init) for b in bars] == [(MINUTE, MINUTE), (2 * MINUTE, 2 * MINUTE)]
    assert aggregate_bars(bar_type("1-MINUTE-LAST"), ticks, until_ns=4 * MINUTE)[-1].ts_event == (
        4 * MINUTE
    )


# -- through the engine -------------------------------------------------------------------


class Backtest:
    """A real backtest kernel with a DataEngine and a replay client, and a subscriber that
    records what it receives and the clock's time when it receives it."""

    def __init__(self) -> None:
        self.kernel = Kernel()
        self.engine = DataEngine(self.kernel.clock, self.kernel.bus, self.kernel.cache)
        self.kernel.add_component(self.engine)
        self.client = ReplayDataClient()
        self.engine.register_client(self.client)
        self.kernel.start()
        self.received: list[tuple[int, Any]] = []

    def record(self, item: Any) -> None:
        self.received.append((self.kernel.clock.timestamp_ns(), item))

    def subscribe_bars(self, bar_type: BarType, subscriber: str = "S-1") -> None:
        self.kernel.bus.subscribe(topics.bars(bar_type), self.record)
        self.kernel.bus.send(ENDPOINT_DATA_EXECUTE, SubscribeBars(bar_type, subscriber))

    def bars(self) -> list[Bar]:
        return [item for _, item in self.received if isinstance(item, Bar)]


def test_engine_publishes_a_time_bar_when_the_clock_reaches_its_close():
    bt = Backtest()
    minute_bars = bar_type("1-MINUTE-LAST")
    bt.subscribe_bars(minute_bars)
    bt.kernel.bus.subscribe(topics.trades(BTC), bt.record)
    bt.client.add_data([trade("10", "1", 5), trade("11", "1", MINUTE)])
    bt.client.replay(until_ns=MINUTE - 1)
    assert bt.bars() == []  # the clock has not reached the close
    bt.client.replay(until_ns=2 * MINUTE)
    kinds = [(now, type(item).__name__) for now, item in bt.received]
    assert kinds == [
        (5, "TradeTick"),
        (MINUTE, "Bar"),  # at its close, before the trade stamped at the close
        (MINUTE, "TradeTick"),
        (2 * MINUTE, "Bar"),
    ]
    assert bt.kernel.cache.bar(minute_bars) == bt.bars()[-1]


def test_engine_publishes_no_bar_for_an_empty_interval():
    bt = Backtest()
    bt.subscribe_bars(bar_type("1-SECOND-LAST"))
    bt.client.add_data([trade("10", "1", 5), trade("10", "1", 10 * SECOND + 1)])
    bt.client.replay(until_ns=20 * SECOND)
    assert [b.ts_event for b in bt.bars()] == [SECOND, 11 * SECOND]


def test_engine_aggregates_quote_bars_from_the_quote_stream():
    bt = Backtest()
    bt.subscribe_bars(bar_type("2-TICK-MID"))
    assert bt.client.subscriptions == {("quotes", BTC)}
    bt.client.add_data([quote("10", "11", "1", "1", 1), quote("10", "12", "1", "3", 2)])
    bt.client.replay()
    assert [ohlcv(b) for b in bt.bars()] == [("10.5", "11.0", "10.5", "11.0", "3.0")]


def test_unsubscribing_the_last_bar_subscriber_cancels_its_close_alert():
    bt = Backtest()
    minute_bars = bar_type("1-MINUTE-LAST")
    bt.subscribe_bars(minute_bars)
    bt.client.add_data([trade("10", "1", 5)])
    bt.client.replay()
    assert bt.kernel.clock.timer_names == [f"DataEngine.bars.{minute_bars}"]
    bt.kernel.bus.send(ENDPOINT_DATA_EXECUTE, UnsubscribeBars(minute_bars, "S-1"))
    assert bt.kernel.clock.timer_names == []
    assert bt.engine.bar_aggregator(minute_bars) is None
    assert bt.client.subscriptions == set()


def test_stopping_the_engine_holds_the_open_bar_and_resuming_closes_it():
    bt = Backtest()
    bt.subscribe_bars(bar_type("1-MINUTE-LAST"))
    bt.client.add_data([trade("10", "1", 5)])
    bt.client.replay()
    bt.kernel.stop()
    assert bt.kernel.clock.timer_names == []
    bt.kernel.clock.advance_time(2 * MINUTE)
    assert bt.bars() == []
    bt.kernel.resume()  # the close has passed: the bar is built on the next clock move
    bt.kernel.clock.advance_time(2 * MINUTE + 1)
    assert [(now, b.ts_event) for now, b in bt.received] == [(2 * MINUTE, MINUTE)]


def test_requested_internal_bars_are_aggregated_from_historical_trades():
    bt = Backtest()
    ticks = [trade("10", "1", 5), trade("12", "2", 30 * SECOND), trade("11", "1", 70 * SECOND)]
    bt.client.add_data(ticks)
    bt.kernel.clock.advance_time(3 * MINUTE)
    responses: list[Any] = []
    request = RequestBars(bar_type("1-MINUTE-LAST"), 0, 3 * MINUTE)
    bt.kernel.bus.request(ENDPOINT_DATA_REQUEST, request, responses.append)
    bars = responses[0].payload
    assert [(b.ts_event, ohlcv(b)) for b in bars] == [
        (MINUTE, ("10", "12", "10", "12", "3")),
        (2 * MINUTE, ("11", "11", "11", "11", "1")),
    ]
    assert bars == aggregate_bars(bar_type("1-MINUTE-LAST"), ticks, until_ns=3 * MINUTE)


def test_requested_internal_bars_stop_at_the_clock():
    bt = Backtest()
    bt.client.add_data([trade("10", "1", 5), trade("11", "1", 70 * SECOND)])
    bt.kernel.clock.advance_time(MINUTE + 30 * SECOND)  # the second minute has not closed
    responses: list[Any] = []
    request = RequestBars(bar_type("1-MINUTE-LAST"), 0, 10 * MINUTE)
    bt.kernel.bus.request(ENDPOINT_DATA_REQUEST, request, responses.append)
    assert [b.ts_event for b in responses[0].payload] == [MINUTE]


# -- property: random streams against a brute-force reference ----------------------------

_Expected = tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int, int]


def as_expected(bar: Bar) -> _Expected:
    values = (bar.open, bar.high, bar.low, bar.close)
    return (*(v.as_decimal() for v in values), bar.volume.as_decimal(), bar.ts_event, bar.ts_init)


def observations(bt: BarType, ticks: Sequence[Any]) -> Iterator[tuple[Decimal, Decimal, Any]]:
    """The (price, size, tick) each tick contributes, computed with Decimal."""
    price_type = bt.spec.price_type.name
    for t in ticks:
        if price_type == "LAST":
            yield t.price.as_decimal(), t.size.as_decimal(), t
        elif price_type == "BID":
            yield t.bid_price.as_decimal(), t.bid_size.as_decimal(), t
        elif price_type == "ASK":
            yield t.ask_price.as_decimal(), t.ask_size.as_decimal(), t
        else:
            price = (t.bid_price.as_decimal() + t.ask_price.as_decimal()) / 2
            size = (t.bid_size.as_decimal() + t.ask_size.as_decimal()) / 2
            yield price, size, t


def summarize(
    points: list[tuple[Decimal, Decimal]], volume: Decimal, ts: tuple[int, int]
) -> _Expected:
    prices = [p for p, _ in points]
    return (prices[0], max(prices), min(prices), prices[-1], volume, *ts)


def reference_bars(bt: BarType, ticks: Sequence[Any], until_ns: int) -> list[_Expected]:
    """Brute force: the bars the rules define, computed the slow and obvious way."""
    step = bt.spec.step
    obs = list(observations(bt, ticks))
    kind = bt.spec.aggregation.name
    bars: list[_Expected] = []
    if bt.spec.is_time_aggregated:
        interval = bt.spec.interval_ns
        groups: dict[int, list[tuple[Decimal, Decimal, Any]]] = {}
        for o in obs:
            groups.setdefault(o[2].ts_init // interval, []).append(o)
        for index in sorted(groups):
            close = (index + 1) * interval
            if close <= until_ns:
                group = groups[index]
                volume = sum((s for _, s, _ in group), Decimal(0))
                bars.append(summarize([(p, s) for p, s, _ in group], volume, (close, close)))
    elif kind == "TICK":
        for start in range(0, len(obs) - step + 1, step):
            chunk = obs[start : start + step]
            volume = sum((s for _, s, _ in chunk), Decimal(0))
            last = chunk[-1][2]
            bars.append(
                summarize([(p, s) for p, s, _ in chunk], volume, (last.ts_event, last.ts_init))
            )
    elif kind == "VOLUME":
        # Expand every tick into units of its smallest size increment, cut every `step`.
        unit = min((s.as_tuple().exponent for _, s, _ in obs), default=0)
        unit_size = Decimal(1).scaleb(unit)
        units = [(p, t) for p, s, t in obs for _ in range(int(s / unit_size))]
        per_bar = int(Decimal(step) / unit_size)
        for start in range(0, len(units) - per_bar + 1, per_bar):
            chunk = units[start : start + per_bar]
            last = chunk[-1][1]
            points = [(p, unit_size) for p, _ in chunk]
            bars.append(summarize(points, Decimal(step), (last.ts_event, last.ts_init)))
    else:  # VALUE
        current: list[tuple[Decimal, Decimal]] = []
        value = Decimal(0)
        for p, s, t in obs:
            current.append((p, s))
            value += abs(p * s)
            if value >= step:
                volume = sum((q for _, q in current), Decimal(0))
                bars.append(summarize(current, volume, (t.ts_event, t.ts_init)))
                current, value = [], Decimal(0)
    return bars


# Times on a 250 ms grid (so ticks land exactly on bar boundaries often), some repeated.
_gaps = st.integers(min_value=0, max_value=12).map(lambda n: n * 250_000_000)
_prices = st.integers(min_value=1, max_value=500)  # raw, precision 2
_sizes = st.integers(min_value=1, max_value=60)  # raw, precision 1


@st.composite
def trade_streams(draw: st.DrawFn) -> list[TradeTick]:
    gaps = draw(st.lists(_gaps, min_size=0, max_size=60))
    ticks = []
    ts = draw(st.integers(min_value=0, max_value=3)) * 250_000_000
    for i, gap in enumerate(gaps):
        ts += gap
        ticks.append(
            TradeTick(
                BTC,
                Price.from_raw(draw(_prices), 2),
                Quantity.from_raw(draw(_sizes), 1),
                AggressorSide.SELLER,
                TradeId(f"T{i}"),
                max(0, ts - draw(st.integers(min_value=0, max_value=1000))),  # ts_event <= ts_init
                ts,
            )
        )
    return ticks


@st.composite
def quote_streams(draw: st.DrawFn) -> list[QuoteTick]:
    gaps = draw(st.lists(_gaps, min_size=0, max_size=60))
    ticks = []
    ts = 0
    for gap in gaps:
        ts += gap
        bid = draw(_prices)
        ticks.append(
            QuoteTick(
                BTC,
                Price.from_raw(bid, 2),
                Price.from_raw(bid + draw(st.integers(min_value=0, max_value=9)), 2),
                Quantity.from_raw(draw(_sizes), 1),
                Quantity.from_raw(draw(_sizes), 1),
                ts,
                ts,
            )
        )
    return ticks


TRADE_BAR_TYPES = [
    "1-SECOND-LAST",
    "3-SECOND-LAST",
    "500-MILLISECOND-LAST",
    "1-TICK-LAST",
    "4-TICK-LAST",
    "3-VOLUME-LAST",
    "10-VOLUME-LAST",
    "20-VALUE-LAST",
    "150-VALUE-LAST",
]
QUOTE_BAR_TYPES = ["1-SECOND-BID", "2-SECOND-ASK", "1-SECOND-MID", "3-TICK-MID", "7-VOLUME-MID"]
_PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_against_reference(bt: BarType, ticks: list[Any], tick_topic: str) -> None:
    backtest = Backtest()
    backtest.subscribe_bars(bt)
    backtest.kernel.bus.subscribe(tick_topic, backtest.record)
    backtest.client.add_data(ticks)
    until = (ticks[-1].ts_init if ticks else 0) + 5 * SECOND
    backtest.client.replay(until_ns=until)

    bars = backtest.bars()
    assert [as_expected(b) for b in bars] == reference_bars(bt, ticks, until)
    for i, (now, item) in enumerate(backtest.received):
        if not isinstance(item, Bar):
            continue
        # No look-ahead: the subscriber sees a bar only once the clock reached its close...
        assert now >= item.ts_event >= 0
        if bt.spec.is_time_aggregated:
            assert now == item.ts_event
            # ... after every tick before its close, before every tick from its close on.
            seen_before = [t for _, t in backtest.received[:i] if not isinstance(t, Bar)]
            seen_after = [t for _, t in backtest.received[i + 1 :] if not isinstance(t, Bar)]
            assert all(t.ts_init < item.ts_event for t in seen_before[-1:])
            assert all(t.ts_init >= item.ts_event for t in seen_after)
    # Historical aggregation follows the same rules as the live one.
    assert aggregate_bars(bt, ticks, until_ns=until) == bars


@pytest.mark.parametrize("text", TRADE_BAR_TYPES)
@_PROPERTY
@given(ticks=trade_streams())
def test_bars_from_random_trades_equal_the_reference_and_never_arrive_before_their_close(
    text: str, ticks: list[TradeTick]
) -> None:
    check_against_reference(bar_type(text), ticks, topics.trades(BTC))


@pytest.mark.parametrize("text", QUOTE_BAR_TYPES)
@_PROPERTY
@given(ticks=quote_streams())
def test_bars_from_random_quotes_equal_the_reference_and_never_arrive_before_their_close(
    text: str, ticks: list[QuoteTick]
) -> None:
    check_against_reference(bar_type(text), ticks, topics.quotes(BTC))
