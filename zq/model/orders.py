"""Orders and the one order state machine.

An order is created from an :class:`~zq.model.events.OrderInitialized` event and changes
only by :meth:`Order.apply` of further events. :data:`ORDER_STATE_TABLE` lists every valid
``(state, event) -> state`` transition; anything else raises
:class:`InvalidStateTransition` naming the order, its state and the event.

``Order`` is compiled (``zq_core.orders``): this module registers the table, the status
sets and the exceptions with it at import, and defines one subclass per order type.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from zq.common.clock import LiveClock, TestClock
from zq.model.enums import (
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    TriggerType,
)
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
from zq_core.orders import Order, _register
from zq_core.time_source import register_cell_clock, register_wall_clock

__all__ = [
    "CLOSED_STATUSES",
    "INFLIGHT_STATUSES",
    "OPEN_STATUSES",
    "ORDER_STATE_TABLE",
    "DuplicateFillError",
    "InvalidOrder",
    "InvalidStateTransition",
    "LimitIfTouchedOrder",
    "LimitOrder",
    "MarketIfTouchedOrder",
    "MarketOrder",
    "Order",
    "OverfillError",
    "StopLimitOrder",
    "StopMarketOrder",
]

S = OrderStatus

#: Working at the venue (can still fill).
OPEN_STATUSES: Final = frozenset(
    {S.ACCEPTED, S.TRIGGERED, S.PENDING_UPDATE, S.PENDING_CANCEL, S.PARTIALLY_FILLED}
)
#: Sent to the venue and waiting for its answer.
INFLIGHT_STATUSES: Final = frozenset({S.SUBMITTED, S.PENDING_UPDATE, S.PENDING_CANCEL})
#: Done: no further state change except a late fill after a cancel or expiry.
CLOSED_STATUSES: Final = frozenset({S.DENIED, S.REJECTED, S.CANCELED, S.EXPIRED, S.FILLED})


class InvalidOrder(ValueError):
    """An order specification that cannot be traded (missing price, bad time in force...)."""


class InvalidStateTransition(RuntimeError):
    """An event that is not valid in the order's current state."""


class OverfillError(RuntimeError):
    """A fill larger than the order's leaves quantity."""


class DuplicateFillError(RuntimeError):
    """A fill whose trade id was already applied to the order."""


# Targets that depend on the order rather than on the table alone.
FILL: Final = "FILL"  # PARTIALLY_FILLED or FILLED by quantity (late fills keep CANCELED/EXPIRED)
PREVIOUS: Final = "PREVIOUS"  # back to the state before the pending update / cancel
SAME: Final = "SAME"  # state unchanged (the event only changes fields)

_Target = OrderStatus | str

# Events that end a working order, valid in every working state.
_EXIT: dict[type[OrderEvent], OrderStatus] = {
    OrderCanceled: S.CANCELED,
    OrderExpired: S.EXPIRED,
    OrderRejected: S.REJECTED,
}

ORDER_STATE_TABLE: Final[dict[tuple[OrderStatus, type[OrderEvent]], _Target]] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.INITIALIZED, OrderRejected): S.REJECTED,
    (S.INITIALIZED, OrderCanceled): S.CANCELED,
    (S.INITIALIZED, OrderExpired): S.EXPIRED,
    (S.INITIALIZED, OrderUpdated): SAME,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.SUBMITTED, OrderCanceled): S.CANCELED,
    (S.SUBMITTED, OrderExpired): S.EXPIRED,
    (S.SUBMITTED, OrderTriggered): S.TRIGGERED,
    (S.SUBMITTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.SUBMITTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.SUBMITTED, OrderUpdated): SAME,
    (S.SUBMITTED, OrderFilled): FILL,  # a fill may overtake the acknowledgement
    **{(S.ACCEPTED, kind): target for kind, target in _EXIT.items()},
    (S.ACCEPTED, OrderTriggered): S.TRIGGERED,
    (S.ACCEPTED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.ACCEPTED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.ACCEPTED, OrderUpdated): SAME,
    (S.ACCEPTED, OrderModifyRejected): SAME,
    (S.ACCEPTED, OrderCancelRejected): SAME,
    (S.ACCEPTED, OrderFilled): FILL,
    **{(S.TRIGGERED, kind): target for kind, target in _EXIT.items()},
    (S.TRIGGERED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.TRIGGERED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.TRIGGERED, OrderUpdated): SAME,
    (S.TRIGGERED, OrderModifyRejected): SAME,
    (S.TRIGGERED, OrderCancelRejected): SAME,
    (S.TRIGGERED, OrderFilled): FILL,
    **{(S.PENDING_UPDATE, kind): target for kind, target in _EXIT.items()},
    (S.PENDING_UPDATE, OrderAccepted): S.ACCEPTED,
    (S.PENDING_UPDATE, OrderTriggered): S.TRIGGERED,
    (S.PENDING_UPDATE, OrderPendingUpdate): SAME,
    (S.PENDING_UPDATE, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, OrderUpdated): PREVIOUS,
    (S.PENDING_UPDATE, OrderModifyRejected): PREVIOUS,
    (S.PENDING_UPDATE, OrderFilled): FILL,
    (S.PENDING_CANCEL, OrderCanceled): S.CANCELED,
    (S.PENDING_CANCEL, OrderExpired): S.EXPIRED,
    (S.PENDING_CANCEL, OrderPendingCancel): SAME,
    (S.PENDING_CANCEL, OrderCancelRejected): PREVIOUS,
    (S.PENDING_CANCEL, OrderModifyRejected): SAME,
    (S.PENDING_CANCEL, OrderUpdated): SAME,
    (S.PENDING_CANCEL, OrderFilled): FILL,  # fills racing the cancel still count
    (S.PARTIALLY_FILLED, OrderCanceled): S.CANCELED,
    (S.PARTIALLY_FILLED, OrderExpired): S.EXPIRED,
    (S.PARTIALLY_FILLED, OrderPendingUpdate): S.PENDING_UPDATE,
    (S.PARTIALLY_FILLED, OrderPendingCancel): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, OrderUpdated): SAME,
    (S.PARTIALLY_FILLED, OrderModifyRejected): SAME,
    (S.PARTIALLY_FILLED, OrderCancelRejected): SAME,
    (S.PARTIALLY_FILLED, OrderFilled): FILL,
    # Late fills: the venue filled before it canceled/expired, the report came after.
    (S.CANCELED, OrderFilled): FILL,
    (S.EXPIRED, OrderFilled): FILL,
    # A modify or cancel that reached the venue after the order ended there (it filled,
    # was canceled or expired while the request was in flight) is refused: the refusal
    # changes nothing, and the strategy still hears of it.
    **{
        (status, kind): SAME
        for status in (S.FILLED, S.CANCELED, S.EXPIRED)
        for kind in (OrderModifyRejected, OrderCancelRejected)
    },
}

_LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_IF_TOUCHED})
_TRIGGER_TYPES = frozenset(
    {
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.MARKET_IF_TOUCHED,
        OrderType.LIMIT_IF_TOUCHED,
    }
)


# The concrete classes carry only their order type: the compiled Order (zq_core.orders)
# checks it against the OrderInitialized it is built from.


class MarketOrder(Order):
    """Fill now at the best available prices."""

    __slots__ = ()
    order_type = OrderType.MARKET


class LimitOrder(Order):
    """Fill at ``price`` or better; rests on the book."""

    __slots__ = ()
    order_type = OrderType.LIMIT


class StopMarketOrder(Order):
    """Becomes a market order once ``trigger_price`` is reached."""

    __slots__ = ()
    order_type = OrderType.STOP_MARKET


class StopLimitOrder(Order):
    """Becomes a limit order at ``price`` once ``trigger_price`` is reached."""

    __slots__ = ()
    order_type = OrderType.STOP_LIMIT


class MarketIfTouchedOrder(Order):
    """Becomes a market order once the market touches ``trigger_price`` (a favourable level)."""

    __slots__ = ()
    order_type = OrderType.MARKET_IF_TOUCHED


class LimitIfTouchedOrder(Order):
    """Becomes a limit order at ``price`` once the market touches ``trigger_price``."""

    __slots__ = ()
    order_type = OrderType.LIMIT_IF_TOUCHED


_ORDER_CLASSES: dict[OrderType, type[Order]] = {
    cls.order_type: cls
    for cls in (
        MarketOrder,
        LimitOrder,
        StopMarketOrder,
        StopLimitOrder,
        MarketIfTouchedOrder,
        LimitIfTouchedOrder,
    )
}


_register(
    statuses=tuple(
        OrderStatus(value) if value in {int(s) for s in OrderStatus} else None
        for value in range(max(OrderStatus) + 1)
    ),
    table=ORDER_STATE_TABLE,
    targets=(FILL, PREVIOUS, SAME),
    status_sets={
        "open": OPEN_STATUSES,
        "inflight": INFLIGHT_STATUSES,
        "closed": CLOSED_STATUSES,
        "pending": frozenset({S.PENDING_UPDATE, S.PENDING_CANCEL}),
    },
    errors=(InvalidOrder, InvalidStateTransition, OverfillError, DuplicateFillError),
    order_classes=_ORDER_CLASSES,
    initialized=OrderInitialized,
    filled=OrderFilled,
    triggered=OrderTriggered,
    updated=OrderUpdated,
    members={
        "NO_ORDER_SIDE": OrderSide.NO_ORDER_SIDE,
        "BUY": OrderSide.BUY,
        "SELL": OrderSide.SELL,
        "GTD": TimeInForce.GTD,
        "GTC": TimeInForce.GTC,
        "MARKET": OrderType.MARKET,
        "LIMIT": OrderType.LIMIT,
        "DEFAULT_TRIGGER": TriggerType.DEFAULT,
        "NO_LIQUIDITY_SIDE": LiquiditySide.NO_LIQUIDITY_SIDE,
        "LIMIT_TYPES": _LIMIT_TYPES,
        "TRIGGER_TYPES": _TRIGGER_TYPES,
        "NOT_POST_ONLY": frozenset({TimeInForce.IOC, TimeInForce.FOK}),
    },
    decimal_zero=Decimal(0),
)

# The order builder and the command paths read the backtest clock's time from its cell in C
# (zq_core.time_source); TestClock.timestamp_ns only reads that cell. The live clock's is
# read from the system's wall clock in C: LiveClock.timestamp_ns only returns time.time_ns().
register_cell_clock(TestClock)
register_wall_clock(LiveClock)
