"""The order factory: builds a strategy's orders with deterministic, never-reused ids.

Client order ids read ``O-{yyyymmdd}-{HHMMSS}-{trader tag}-{strategy tag}-{count}``, with the
date and time of the clock when the order is made (so a backtest numbers its orders the same
way every run) and a count that only grows for the strategy's life.
"""

from __future__ import annotations

from collections.abc import Callable

from zq.common.clock import Clock
from zq.model.enums import OrderSide, OrderType, TimeInForce, TriggerType
from zq.model.identifiers import ClientOrderId, InstrumentId, StrategyId, TraderId
from zq.model.orders import Order
from zq_core.fixed import Price, Quantity
from zq_core.order_ids import OrderIdGenerator
from zq_core.orders import OrderBuilder

__all__ = ["OrderFactory"]



def _tag(identifier: str) -> str:
    return identifier.rpartition("-")[2]


class OrderFactory(OrderBuilder):
    """Build orders for one strategy.

    Orders are built in C (``zq_core.orders.OrderBuilder``: the ``OrderInitialized`` and the
    order, the clock read once); ``market`` and ``limit`` are its methods, the other types are
    named here.

    Parameters
    ----------
    trader_id : TraderId
        The node's trader id; its tag (after the last '-') goes into the order ids.
    strategy_id : StrategyId
        The strategy's id; its tag goes into the order ids.
    clock : Clock
        The node's clock: order timestamps and the date/time part of the ids.
    initial_count : int, default 0
        The count the ids continue from (restore it after a restart with :meth:`set_count`).
    """

    def __init__(
        self,
        trader_id: TraderId,
        strategy_id: StrategyId,
        clock: Clock,
        initial_count: int = 0,
    ) -> None:
        self.trader_id = trader_id
        self.strategy_id = strategy_id
        self.clock = clock
        self._ids = OrderIdGenerator(
            f"{_tag(trader_id)}-{_tag(strategy_id)}", ClientOrderId, initial_count
        )
        self._next_id: Callable[[int], ClientOrderId] = self._ids.next_id
        super().__init__(trader_id, strategy_id, clock, self._ids)

    @property
    def count(self) -> int:
        """How many ids the factory has made."""
        return self._ids.count

    def set_count(self, count: int) -> None:
        """Continue numbering from ``count`` (restoring saved state).

        Raises
        ------
        ValueError
            If ``count`` is below the current count (ids would be reused).
        """
        self._ids.set_count(count)

    def next_client_order_id(self) -> ClientOrderId:
        """Return a new client order id."""
        return self._next_id(self.clock.timestamp_ns())

    def _create(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        order_type: OrderType,
        quantity: Quantity,
        *,
        price: Price | None = None,
        trigger_price: Price | None = None,
        trigger_type: TriggerType = TriggerType.DEFAULT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        display_quantity: Quantity | None = None,
        tags: tuple[str, ...] = (),
    ) -> Order:
        return self.build(
            order_type,
            instrument_id,
            side,
            quantity,
            price,
            trigger_price,
            trigger_type,
            time_in_force,
            expire_time_ns,
            post_only,
            reduce_only,
            display_quantity,
            tags,
        )

    def stop_market(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        trigger_price: Price,
        *,
        trigger_type: TriggerType = TriggerType.DEFAULT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        reduce_only: bool = False,
        tags: tuple[str, ...] = (),
    ) -> Order:
        """Return a stop-market order: a market order once ``trigger_price`` is reached."""
        return self._create(
            instrument_id,
            side,
            OrderType.STOP_MARKET,
            quantity,
            trigger_price=trigger_price,
            trigger_type=trigger_type,
            time_in_force=time_in_force,
            expire_time_ns=expire_time_ns,
            reduce_only=reduce_only,
            tags=tags,
        )

    def stop_limit(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        price: Price,
        trigger_price: Price,
        *,
        trigger_type: TriggerType = TriggerType.DEFAULT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        tags: tuple[str, ...] = (),
    ) -> Order:
        """Return a stop-limit order: a limit order at ``price`` once triggered."""
        return self._create(
            instrument_id,
            side,
            OrderType.STOP_LIMIT,
            quantity,
            price=price,
            trigger_price=trigger_price,
            trigger_type=trigger_type,
            time_in_force=time_in_force,
            expire_time_ns=expire_time_ns,
            post_only=post_only,
            reduce_only=reduce_only,
            tags=tags,
        )

    def market_if_touched(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        trigger_price: Price,
        *,
        trigger_type: TriggerType = TriggerType.DEFAULT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        reduce_only: bool = False,
        tags: tuple[str, ...] = (),
    ) -> Order:
        """Return a market-if-touched order."""
        return self._create(
            instrument_id,
            side,
            OrderType.MARKET_IF_TOUCHED,
            quantity,
            trigger_price=trigger_price,
            trigger_type=trigger_type,
            time_in_force=time_in_force,
            expire_time_ns=expire_time_ns,
            reduce_only=reduce_only,
            tags=tags,
        )

    def limit_if_touched(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        price: Price,
        trigger_price: Price,
        *,
        trigger_type: TriggerType = TriggerType.DEFAULT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expire_time_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        tags: tuple[str, ...] = (),
    ) -> Order:
        """Return a limit-if-touched order."""
        return self._create(
            instrument_id,
            side,
            OrderType.LIMIT_IF_TOUCHED,
            quantity,
            price=price,
            trigger_price=trigger_price,
            trigger_type=trigger_type,
            time_in_force=time_in_force,
            expire_time_ns=expire_time_ns,
            post_only=post_only,
            reduce_only=reduce_only,
            tags=tags,
        )
