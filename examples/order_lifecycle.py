"""Walk one limit order through its life on a backtest kernel.

The order is created, tracked in the cache, submitted, accepted, partly filled and canceled;
every event is published on the bus, and a subscriber with a wildcard pattern sees them all.

Run: ``python examples/order_lifecycle.py``
"""

from __future__ import annotations

from decimal import Decimal

from zq.common import topics
from zq.kernel import Kernel
from zq.model import (
    AccountId,
    AssetClass,
    ClientOrderId,
    Currency,
    CurrencyPair,
    InstrumentId,
    LiquiditySide,
    Money,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderInitialized,
    OrderSide,
    OrderSubmitted,
    OrderType,
    Price,
    Quantity,
    StrategyId,
    TradeId,
    VenueOrderId,
)


def main() -> list[str]:
    kernel = Kernel()
    instrument = CurrencyPair(
        id=InstrumentId("ETHUSDT.BINANCE"),
        raw_symbol="ETHUSDT",
        asset_class=AssetClass.CRYPTOCURRENCY,
        quote_currency=Currency.from_str("USDT"),
        base_currency=Currency.from_str("ETH"),
        price_increment=Price.from_str("0.01"),
        size_increment=Quantity.from_str("0.0001"),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0004"),
    )
    kernel.cache.add_instrument(instrument)
    strategy_id = StrategyId("Example-001")
    account_id = AccountId("BINANCE-001")

    seen: list[str] = []
    kernel.bus.subscribe("events.order.*", lambda event: seen.append(type(event).__name__))

    ids = dict(
        trader_id=kernel.trader_id,
        strategy_id=strategy_id,
        instrument_id=instrument.id,
        client_order_id=ClientOrderId("O-20240101-001"),
    )
    order = Order.create(
        OrderInitialized(
            **ids,
            ts_event=0,
            ts_init=0,
            side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            quantity=instrument.make_qty("1.5"),
            price=instrument.make_price("2300.00"),
            post_only=True,
        )
    )
    kernel.cache.add_order(order)

    def apply(event: OrderEvent) -> None:
        order.apply(event)
        kernel.cache.update_order(order)
        kernel.bus.publish(topics.order_events(strategy_id), event)

    venue_order_id = VenueOrderId("8389765")
    apply(OrderSubmitted(**ids, ts_event=1, ts_init=1, account_id=account_id))
    print(f"in flight: {[str(o.client_order_id) for o in kernel.cache.orders_inflight()]}")
    apply(
        OrderAccepted(
            **ids, ts_event=2, ts_init=2, venue_order_id=venue_order_id, account_id=account_id
        )
    )
    fill_qty = instrument.make_qty("0.6")
    commission = instrument.notional_value(fill_qty, order.price or Price(0, 2)).as_decimal()
    apply(
        OrderFilled(
            **ids,
            ts_event=3,
            ts_init=3,
            venue_order_id=venue_order_id,
            account_id=account_id,
            trade_id=TradeId("T-1"),
            order_side=OrderSide.BUY,
            order_type=OrderType.LIMIT,
            last_qty=fill_qty,
            last_px=instrument.make_price("2300.00"),
            commission=Money(commission * instrument.maker_fee, instrument.quote_currency),
            liquidity_side=LiquiditySide.MAKER,
        )
    )
    print(
        f"{order.status.name}: filled {order.filled_qty} of {order.quantity} at {order.avg_px}"
    )
    apply(
        OrderCanceled(
            **ids, ts_event=4, ts_init=4, venue_order_id=venue_order_id, account_id=account_id
        )
    )
    print(f"closed: {order.status.name}, commissions {order.commissions['USDT']}")
    print(f"events seen on the bus: {seen}")
    return seen


if __name__ == "__main__":
    main()
