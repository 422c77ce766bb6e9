"""Builders of orders and events for the model and cache tests."""

from __future__ import annotations

import itertools
from typing import Any

from zq.model.currency import Currency
from zq.model.enums import LiquiditySide, OrderSide, OrderType, TimeInForce
from zq.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from zq.model.orders import Order
from zq_core.fixed import Money, Price, Quantity

USD = Currency.from_str("USD")
TRADER = TraderId("TRADER-001")
STRATEGY = StrategyId("S-001")
INSTRUMENT = InstrumentId("BTCUSDT.BINANCE")
ACCOUNT = AccountId("BINANCE-001")
_trade_ids = itertools.count(1)


def init_event(
    coid: str = "O-1",
    order_type: OrderType = OrderType.STOP_LIMIT,
    side: OrderSide = OrderSide.BUY,
    quantity: str = "10",
    instrument: InstrumentId = INSTRUMENT,
    strategy: StrategyId = STRATEGY,
    **kwargs: Any,
) -> OrderInitialized:
    prices: dict[str, Any] = {}
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED):
        prices["price"] = Price.from_str("100.00")
    if order_type in (
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.MARKET_IF_TOUCHED,
        OrderType.LIMIT_IF_TOUCHED,
    ):
        prices["trigger_price"] = Price.from_str("99.00")
    prices.update(kwargs)
    return OrderInitialized(
        trader_id=TRADER,
        strategy_id=strategy,
        instrument_id=instrument,
        client_order_id=ClientOrderId(coid),
        ts_event=1,
        ts_init=1,
        side=side,
        order_type=order_type,
        quantity=Quantity.from_str(quantity),
        time_in_force=prices.pop("time_in_force", TimeInForce.GTC),
        **prices,
    )


def make_event(kind: type[OrderEvent], order: Order, **kwargs: Any) -> OrderEvent:
    """Build a valid-looking event of ``kind`` for ``order``."""
    base: dict[str, Any] = {
        "trader_id": order.trader_id,
        "strategy_id": order.strategy_id,
        "instrument_id": order.instrument_id,
        "client_order_id": order.client_order_id,
        "ts_event": 2,
        "ts_init": 2,
    }
    venue_order_id = VenueOrderId(f"V-{order.client_order_id}")
    extra: dict[str, Any] = {
        OrderDenied: {"reason": "denied"},
        OrderSubmitted: {"account_id": ACCOUNT},
        OrderAccepted: {"venue_order_id": venue_order_id, "account_id": ACCOUNT},
        OrderRejected: {"account_id": ACCOUNT, "reason": "rejected"},
        OrderCanceled: {},
        OrderExpired: {},
        OrderTriggered: {},
        OrderPendingUpdate: {},
        OrderPendingCancel: {},
        OrderModifyRejected: {"reason": "modify rejected"},
        OrderCancelRejected: {"reason": "cancel rejected"},
        OrderUpdated: {"quantity": order.quantity},
        OrderFilled: {
            "venue_order_id": order.venue_order_id or venue_order_id,
            "account_id": ACCOUNT,
            "trade_id": TradeId(f"T-{next(_trade_ids)}"),
            "order_side": order.side,
            "order_type": order.order_type,
            "last_qty": Quantity.from_str("1"),
            "last_px": Price.from_str("100.00"),
            "commission": Money("0.01", USD),
            "liquidity_side": LiquiditySide.MAKER,
        },
    }[kind]
    extra = {**extra, **kwargs}
    return kind(**base, **extra)


def apply_all(order: Order, kinds: list[type[OrderEvent]], **kwargs: Any) -> Order:
    for kind in kinds:
        order.apply(make_event(kind, order, **kwargs.get(kind.__name__, {})))
    return order
