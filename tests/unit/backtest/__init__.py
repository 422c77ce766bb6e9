"""Tests of zq.backtest, and a small harness that drives one SimulatedExchange."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from zq.backtest import SimulatedExchange
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, SubmitOrder
from zq.model.currency import Currency
from zq.model.data import Bar, BarSpecification, BarType, OrderBookDelta, QuoteTick, TradeTick
from zq.model.enums import (
    AggressorSide,
    AssetClass,
    BarAggregation,
    BookAction,
    BookType,
    LiquiditySide,
    OrderSide,
    OrderType,
    PriceType,
    TimeInForce,
)
from zq.model.events import OrderEvent, OrderFilled, OrderInitialized
from zq.model.identifiers import (
    ClientOrderId,
    InstrumentId,
    StrategyId,
    TradeId,
    TraderId,
    Venue,
)
from zq.model.instruments import CurrencyPair
from zq_core.fixed import Price, Quantity

VENUE = Venue("SIM")
INSTRUMENT_ID = InstrumentId("BTCUSD.SIM")
USD = Currency.from_str("USD")
BTC = Currency.from_str("BTC")
TRADER = TraderId("TRADER-001")
STRATEGY = StrategyId("S-001")

# Tick 0.01, lot 1, maker 0.02 %, taker 0.05 %, fees in USD (2 decimals).
INSTRUMENT = CurrencyPair(
    id=INSTRUMENT_ID,
    raw_symbol="BTCUSD",
    asset_class=AssetClass.CRYPTOCURRENCY,
    quote_currency=USD,
    base_currency=BTC,
    price_increment=Price.from_str("0.01"),
    size_increment=Quantity.from_str("1"),
    maker_fee=Decimal("0.0002"),
    taker_fee=Decimal("0.0005"),
)

BUY = OrderSide.BUY
SELL = OrderSide.SELL
BID = OrderSide.BUY  # a book side is read as the side of its orders
ASK = OrderSide.SELL


class Venue1:
    """One SimulatedExchange on INSTRUMENT with helpers to feed it and read its events."""

    def __init__(self, book_type: BookType = BookType.L2_MBP, **kwargs: Any) -> None:
        self.events: list[OrderEvent] = []
        self.exchange = SimulatedExchange(
            VENUE, [INSTRUMENT], self.events.append, book_type=book_type, **kwargs
        )
        self._sequence = 0

    # --- Market data
    def delta(
        self,
        side: OrderSide,
        price: str,
        size: int,
        ts: int = 0,
        action: BookAction = BookAction.UPDATE,
        order_id: int = 0,
    ) -> None:
        if size == 0 and action == BookAction.UPDATE:
            action = BookAction.DELETE
        self._sequence += 1
        self.exchange.process_delta(
            OrderBookDelta(
                INSTRUMENT_ID,
                action,
                side,
                Price.from_str(price),
                Quantity.from_int(size),
                order_id,
                0,
                self._sequence,
                ts,
                ts,
            )
        )

    def quote(self, bid: str, bid_size: int, ask: str, ask_size: int, ts: int = 0) -> None:
        self.exchange.process_quote(
            QuoteTick(
                INSTRUMENT_ID,
                Price.from_str(bid),
                Price.from_str(ask),
                Quantity.from_int(bid_size),
                Quantity.from_int(ask_size),
                ts,
                ts,
            )
        )

    def trade(
        self,
        price: str,
        size: int,
        ts: int = 0,
        aggressor: AggressorSide = AggressorSide.NO_AGGRESSOR,
    ) -> None:
        self._sequence += 1
        self.exchange.process_trade(
            TradeTick(
                INSTRUMENT_ID,
                Price.from_str(price),
                Quantity.from_int(size),
                aggressor,
                TradeId(f"M-{self._sequence}"),
                ts,
                ts,
            )
        )

    def bar(self, open: str, high: str, low: str, close: str, volume: int, ts: int) -> None:
        bar_type = BarType(
            INSTRUMENT_ID, BarSpecification(1, BarAggregation.MINUTE, PriceType.LAST)
        )
        self.exchange.process_bar(
            Bar(
                bar_type,
                Price.from_str(open),
                Price.from_str(high),
                Price.from_str(low),
                Price.from_str(close),
                Quantity.from_int(volume),
                ts,
                ts,
            )
        )

    # --- Commands
    def submit(
        self,
        coid: str,
        side: OrderSide,
        order_type: OrderType,
        quantity: int,
        price: str | None = None,
        trigger: str | None = None,
        ts: int = 0,
        **kwargs: Any,
    ) -> None:
        order = OrderInitialized(
            trader_id=TRADER,
            strategy_id=STRATEGY,
            instrument_id=INSTRUMENT_ID,
            client_order_id=ClientOrderId(coid),
            ts_event=ts,
            ts_init=ts,
            side=side,
            order_type=order_type,
            quantity=Quantity.from_int(quantity),
            price=None if price is None else Price.from_str(price),
            trigger_price=None if trigger is None else Price.from_str(trigger),
            time_in_force=kwargs.pop("time_in_force", TimeInForce.GTC),
            **kwargs,
        )
        self.exchange.submit(
            SubmitOrder(
                trader_id=TRADER,
                strategy_id=STRATEGY,
                instrument_id=INSTRUMENT_ID,
                ts_init=ts,
                order=order,
            )
        )

    def modify(
        self, coid: str, quantity: int | None = None, price: str | None = None, ts: int = 0
    ) -> None:
        self.exchange.modify(
            ModifyOrder(
                trader_id=TRADER,
                strategy_id=STRATEGY,
                instrument_id=INSTRUMENT_ID,
                ts_init=ts,
                client_order_id=ClientOrderId(coid),
                quantity=None if quantity is None else Quantity.from_int(quantity),
                price=None if price is None else Price.from_str(price),
            )
        )

    def cancel(self, coid: str, ts: int = 0) -> None:
        self.exchange.cancel(
            CancelOrder(
                trader_id=TRADER,
                strategy_id=STRATEGY,
                instrument_id=INSTRUMENT_ID,
                ts_init=ts,
                client_order_id=ClientOrderId(coid),
            )
        )

    def cancel_all(self, ts: int = 0, side: OrderSide = OrderSide.NO_ORDER_SIDE) -> None:
        self.exchange.cancel_all(
            CancelAllOrders(
                trader_id=TRADER,
                strategy_id=STRATEGY,
                instrument_id=INSTRUMENT_ID,
                ts_init=ts,
                order_side=side,
            )
        )

    # --- Reading
    def kinds(self, coid: str | None = None) -> list[str]:
        """The event class names, of one order or of all."""
        return [
            type(event).__name__
            for event in self.events
            if coid is None or event.client_order_id == coid
        ]

    def fills(self, coid: str | None = None) -> list[tuple[str, str, str]]:
        """(quantity, price, MAKER/TAKER) of the fills, of one order or of all."""
        return [
            (str(event.last_qty), str(event.last_px), event.liquidity_side.name)
            for event in self.events
            if isinstance(event, OrderFilled) and (coid is None or event.client_order_id == coid)
        ]

    def ahead(self, coid: str) -> int:
        """The raw volume ahead of an open order in the queue."""
        core = self.exchange.core(INSTRUMENT_ID)
        record = self.exchange._records[ClientOrderId(coid)]
        order = core.order(record.core_id)
        assert order is not None
        return order.ahead


__all__ = [
    "ASK",
    "BID",
    "BUY",
    "INSTRUMENT",
    "INSTRUMENT_ID",
    "SELL",
    "USD",
    "LiquiditySide",
    "Venue1",
]
