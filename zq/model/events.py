"""Order events: one frozen struct per transition of the order state machine.

An order is built from its :class:`OrderInitialized` event and moved only by applying
events (see :mod:`zq.model.orders`). Events carry ``ts_event`` (when it happened) and
``ts_init`` (when zq created the event), UNIX nanoseconds.

The events are not ``kw_only`` (unlike most zq structs): the order path builds several per
order, and msgspec builds a struct from positional arguments several times faster than
from keywords (an ``OrderInitialized`` about 2 µs from keywords, 0.2 µs positionally).
Their field order is therefore fixed: the shared fields of :class:`OrderEvent` first, then
each event's own, in the order they are declared. Build them with keywords anywhere off
the hot path; the fields and their encoding are the same either way.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from zq.model.enums import LiquiditySide, OrderSide, OrderType, TimeInForce, TriggerType
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    OrderListId,
    PositionId,
    StrategyId,
    TradeId,
    TraderId,
    VenueOrderId,
)
from zq_core.fixed import Money, Price, Quantity

__all__ = [
    "ORDER_EVENT_TYPES",
    "OrderAccepted",
    "OrderCancelRejected",
    "OrderCanceled",
    "OrderDenied",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderInitialized",
    "OrderModifyRejected",
    "OrderPendingCancel",
    "OrderPendingUpdate",
    "OrderRejected",
    "OrderSubmitted",
    "OrderTriggered",
    "OrderUpdated",
]


class OrderEvent(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Fields shared by every order event."""

    trader_id: TraderId
    strategy_id: StrategyId
    instrument_id: InstrumentId
    client_order_id: ClientOrderId
    ts_event: int
    ts_init: int


class OrderInitialized(OrderEvent, frozen=True, gc=False, tag=True):
    """The order was created by a strategy; it holds the order's full specification."""

    side: OrderSide
    order_type: OrderType
    quantity: Quantity
    time_in_force: TimeInForce = TimeInForce.GTC
    price: Price | None = None
    trigger_price: Price | None = None
    trigger_type: TriggerType = TriggerType.DEFAULT
    expire_time_ns: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    display_quantity: Quantity | None = None
    order_list_id: OrderListId | None = None
    position_id: PositionId | None = None
    tags: tuple[str, ...] = ()


class OrderDenied(OrderEvent, frozen=True, gc=False, tag=True):
    """The order was refused inside zq (risk checks) and never left the process."""

    reason: str


class OrderSubmitted(OrderEvent, frozen=True, gc=False, tag=True):
    """The order is about to be sent to the venue; it is in flight from here on."""

    account_id: AccountId


class OrderAccepted(OrderEvent, frozen=True, gc=False, tag=True):
    """The venue acknowledged the order and assigned its id."""

    venue_order_id: VenueOrderId
    account_id: AccountId


class OrderRejected(OrderEvent, frozen=True, gc=False, tag=True):
    """The venue refused the order."""

    account_id: AccountId
    reason: str


class OrderCanceled(OrderEvent, frozen=True, gc=False, tag=True):
    """The order was canceled (by request, by the venue, or locally before submission)."""

    venue_order_id: VenueOrderId | None = None
    account_id: AccountId | None = None


class OrderExpired(OrderEvent, frozen=True, gc=False, tag=True):
    """The order's time in force ran out (GTD, DAY)."""

    venue_order_id: VenueOrderId | None = None
    account_id: AccountId | None = None


class OrderTriggered(OrderEvent, frozen=True, gc=False, tag=True):
    """A stop or if-touched order's trigger price was reached."""

    venue_order_id: VenueOrderId | None = None
    account_id: AccountId | None = None


class OrderPendingUpdate(OrderEvent, frozen=True, gc=False, tag=True):
    """A modify request was sent; the venue has not answered yet."""

    venue_order_id: VenueOrderId | None = None
    account_id: AccountId | None = None


class OrderPendingCancel(OrderEvent, frozen=True, gc=False, tag=True):
    """A cancel request was sent; the venue has not answered yet."""

    venue_order_id: VenueOrderId | None = None
    account_id: AccountId | None = None


class OrderModifyRejected(OrderEvent, frozen=True, gc=False, tag=True):
    """The venue refused a modify request; the order goes back to its previous state."""

    reason: str
    venue_order_id: VenueOrderId | None = None
    account_id: AccountId | None = None


class OrderCancelRejected(OrderEvent, frozen=True, gc=False, tag=True):
    """The venue refused a cancel request; the order goes back to its previous state."""

    reason: str
    venue_order_id: VenueOrderId | None = None
    account_id: AccountId | None = None


class OrderUpdated(OrderEvent, frozen=True, gc=False, tag=True):
    """The venue applied a modify: new quantity and/or prices (and maybe a new venue id)."""

    quantity: Quantity
    price: Price | None = None
    trigger_price: Price | None = None
    venue_order_id: VenueOrderId | None = None
    account_id: AccountId | None = None


class OrderFilled(OrderEvent, frozen=True, gc=False, tag=True):
    """A fill (full or partial) of the order. ``trade_id`` is unique per venue trade."""

    venue_order_id: VenueOrderId
    account_id: AccountId
    trade_id: TradeId
    order_side: OrderSide
    order_type: OrderType
    last_qty: Quantity
    last_px: Price
    commission: Money
    liquidity_side: LiquiditySide
    position_id: PositionId | None = None
    info: dict[str, str] | None = None

    @property
    def notional(self) -> Decimal:
        """``last_qty × last_px`` (before any multiplier), exact."""
        return self.last_qty.as_decimal() * self.last_px.as_decimal()


ORDER_EVENT_TYPES: tuple[type[OrderEvent], ...] = (
    OrderInitialized,
    OrderDenied,
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderCanceled,
    OrderExpired,
    OrderTriggered,
    OrderPendingUpdate,
    OrderPendingCancel,
    OrderModifyRejected,
    OrderCancelRejected,
    OrderUpdated,
    OrderFilled,
)
