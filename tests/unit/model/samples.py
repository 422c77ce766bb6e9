"""One sample of every serializable zq type, for round-trip tests."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.model.order_helpers import (
    ACCOUNT,
    INSTRUMENT,
    STRATEGY,
    TRADER,
    init_event,
    make_event,
)
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, QueryOrder, SubmitOrder
from zq.model.currency import Currency
from zq.model.data import (
    Bar,
    BarSpecification,
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
    BarAggregation,
    BookAction,
    MarketStatus,
    OrderSide,
    OrderType,
    PriceType,
)
from zq.model.events import ORDER_EVENT_TYPES, OrderInitialized
from zq.model.identifiers import ClientOrderId, InstrumentId, TradeId, VenueOrderId
from zq.model.instruments import CryptoPerpetual, CurrencyPair, Equity, FuturesContract
from zq.model.orders import Order
from zq_core.fixed import Money, Price, Quantity

USD = Currency.from_str("USD")
USDT = Currency.from_str("USDT")
BTC = Currency.from_str("BTC")
P = Price.from_str
Q = Quantity.from_str


def instruments() -> list:
    common = dict(ts_event=1, ts_init=2)
    return [
        CurrencyPair(
            id=InstrumentId("BTCUSDT.BINANCE"),
            raw_symbol="BTCUSDT",
            asset_class=AssetClass.CRYPTOCURRENCY,
            quote_currency=USDT,
            base_currency=BTC,
            price_increment=P("0.01"),
            size_increment=Q("0.00001"),
            min_quantity=Q("0.00001"),
            max_quantity=Q("9000"),
            min_notional=Money("5.00", USDT),
            maker_fee=Decimal("0.001"),
            taker_fee=Decimal("0.001"),
            **common,
        ),
        CryptoPerpetual(
            id=InstrumentId("BTCUSD-PERP.BYBIT"),
            raw_symbol="BTCUSD",
            asset_class=AssetClass.CRYPTOCURRENCY,
            quote_currency=USD,
            base_currency=BTC,
            inverse=True,
            price_increment=P("0.5"),
            size_increment=Q("1"),
            multiplier=Q("1"),
            maker_fee=Decimal("-0.00025"),
            taker_fee=Decimal("0.00075"),
            margin_init=Decimal("0.01"),
            **common,
        ),
        FuturesContract(
            id=InstrumentId("ESH4.GLBX"),
            raw_symbol="ESH4",
            asset_class=AssetClass.INDEX,
            quote_currency=USD,
            underlying="ES",
            price_increment=P("0.25"),
            size_increment=Q("1"),
            multiplier=Q("50"),
            activation_ns=1_600_000_000_000_000_000,
            expiration_ns=1_710_000_000_000_000_000,
            **common,
        ),
        Equity(
            id=InstrumentId("SPY.ARCX"),
            raw_symbol="SPY",
            asset_class=AssetClass.EQUITY,
            quote_currency=USD,
            price_increment=P("0.01"),
            size_increment=Q("1"),
            lot_size=Q("100"),
            isin="US78462F1030",
            **common,
        ),
    ]


def market_data() -> list:
    bar_type = BarType.from_str("ESH4.GLBX-1-MINUTE-LAST-EXTERNAL")
    return [
        QuoteTick(INSTRUMENT, P("100.01"), P("100.02"), Q("1.5"), Q("2.25"), 10, 11),
        TradeTick(INSTRUMENT, P("100.02"), Q("0.5"), AggressorSide.BUYER, TradeId("T-77"), 10, 11),
        Bar(bar_type, P("4800.25"), P("4801.00"), P("4799.75"), P("4800.50"), Q("1234"), 60, 61),
        OrderBookDelta(
            INSTRUMENT,
            BookAction.ADD,
            OrderSide.BUY,
            P("100.01"),
            Q("3"),
            42,
            int(BookFlags.LAST),
            7,
            10,
            11,
        ),
        OrderBookDepth(
            INSTRUMENT,
            bids=(BookLevel(P("100.01"), Q("1"), 2), BookLevel(P("100.00"), Q("5"), 1)),
            asks=(BookLevel(P("100.02"), Q("2"), 1),),
            sequence=9,
            ts_event=10,
            ts_init=11,
        ),
        InstrumentStatus(INSTRUMENT, MarketStatus.HALT, 10, 11, reason="circuit breaker"),
        BarSpecification(5, BarAggregation.SECOND, PriceType.MID),
    ]


def order_events() -> list:
    order = Order.create(init_event(order_type=OrderType.STOP_LIMIT, tags=("entry",)))
    return [order.init] + [
        make_event(kind, order) for kind in ORDER_EVENT_TYPES if kind is not OrderInitialized
    ]


def commands() -> list:
    init: OrderInitialized = init_event()
    base = dict(trader_id=TRADER, strategy_id=STRATEGY, instrument_id=INSTRUMENT, ts_init=5)
    return [
        SubmitOrder(order=init, **base),
        ModifyOrder(
            client_order_id=ClientOrderId("O-1"),
            venue_order_id=VenueOrderId("V-1"),
            quantity=Q("3"),
            price=P("100.00"),
            **base,
        ),
        CancelOrder(client_order_id=ClientOrderId("O-1"), **base),
        CancelAllOrders(order_side=OrderSide.SELL, **base),
        QueryOrder(client_order_id=ClientOrderId("O-1"), **base),
    ]


def position_events() -> list:
    from tests.unit.portfolio.fills import BTCUSDT_PERP, buy, sell
    from zq.model.identifiers import PositionId
    from zq.model.position import Position

    position_id = PositionId("BTCUSDT-PERP.BINANCE-S-001")
    position = Position(BTCUSDT_PERP, buy(BTCUSDT_PERP, "2", "100.0"), position_id)
    events = list(position.last_events)
    events += position.apply(buy(BTCUSDT_PERP, "1", "101.0"))
    events += position.apply(sell(BTCUSDT_PERP, "3", "102.5"))  # closes at a profit
    return events


def all_samples() -> list:
    return instruments() + market_data() + order_events() + commands() + position_events()


__all__ = ["ACCOUNT", "all_samples"]
