"""Orders and the one order state machine.

An order is created from an :class:`~zq.model.events.OrderInitialized` event and changes
only by :meth:`Order.apply` of further events. :data:`ORDER_STATE_TABLE` lists every valid
``(state, event) -> state`` transition; anything else raises
:class:`InvalidStateTransition` naming the order, its state and the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final, Self

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


# Enum members bound once: attribute access on an enum class costs a lookup per use.
_INITIALIZED: Final = S.INITIALIZED
_FILLED: Final = S.FILLED
_PARTIALLY_FILLED: Final = S.PARTIALLY_FILLED
_CANCELED: Final = S.CANCELED
_EXPIRED: Final = S.EXPIRED
_PENDING_STATUSES: Final = frozenset({S.PENDING_UPDATE, S.PENDING_CANCEL})
_NO_LIQUIDITY_SIDE: Final = LiquiditySide.NO_LIQUIDITY_SIDE
_NO_ORDER_SIDE: Final = OrderSide.NO_ORDER_SIDE
_GTD: Final = TimeInForce.GTD
_MARKET: Final = OrderType.MARKET
_NOT_POST_ONLY: Final = frozenset({TimeInForce.IOC, TimeInForce.FOK})
_DECIMAL_ZERO: Final = Decimal(0)

# ORDER_STATE_TABLE keyed by event type, then state: Order.apply looks a transition up
# without building a (state, type) key per event.
_STATUS_VALUES: Final = frozenset(int(status) for status in OrderStatus)
_TRANSITIONS: Final[dict[type[OrderEvent], dict[OrderStatus, _Target]]] = {}
for (_status, _kind), _target in ORDER_STATE_TABLE.items():
    _TRANSITIONS.setdefault(_kind, {})[_status] = _target
# ... and as rows indexed by the state's value (None: no transition).
_TRANSITION_ROWS: Final[dict[type[OrderEvent], tuple[_Target | None, ...]]] = {
    kind: tuple(
        targets.get(OrderStatus(value)) if value in _STATUS_VALUES else None
        for value in range(max(OrderStatus) + 1)
    )
    for kind, targets in _TRANSITIONS.items()
}

# Per event type, the order fields it sets (Order.apply; fills set theirs in
# Order._apply_fill), as bits. OrderDenied carries none of them.
_SETS_ACCOUNT_ID: Final = 1
_SETS_VENUE_ORDER_ID: Final = 2
_SETS_TRIGGERED: Final = 4
_SETS_QUANTITY_AND_PRICES: Final = 8
_SETS_MORE: Final = _SETS_TRIGGERED | _SETS_QUANTITY_AND_PRICES
_FIELD_BITS: Final[dict[type[OrderEvent], int]] = {
    kind: (_SETS_ACCOUNT_ID if "account_id" in kind.__struct_fields__ else 0)
    | (_SETS_VENUE_ORDER_ID if "venue_order_id" in kind.__struct_fields__ else 0)
    | (_SETS_TRIGGERED if kind is OrderTriggered else 0)
    | (_SETS_QUANTITY_AND_PRICES if kind is OrderUpdated else 0)
    for kind in _TRANSITIONS
    if kind is not OrderFilled
}
# ... with the transition rows: one lookup per applied event.
_KINDS: Final[dict[type[OrderEvent], tuple[tuple[_Target | None, ...], int]]] = {
    kind: (row, _FIELD_BITS.get(kind, 0)) for kind, row in _TRANSITION_ROWS.items()
}


def _specification_error(init: OrderInitialized) -> str | None:
    """Return why the specification in ``init`` cannot be traded, or None."""
    order_type = init.order_type
    if init.side is _NO_ORDER_SIDE:
        return "side must be BUY or SELL"
    if init.quantity.raw <= 0:
        return f"quantity must be positive, got {init.quantity}"
    needs_price = order_type in _LIMIT_TYPES
    needs_trigger = order_type in _TRIGGER_TYPES
    price = init.price
    if needs_price:
        if price is None:
            return "price is required"
    elif price is not None:
        return f"price {price} is not allowed"
    trigger_price = init.trigger_price
    if needs_trigger:
        if trigger_price is None:
            return "trigger_price is required"
    elif trigger_price is not None:
        return f"trigger_price {trigger_price} is not allowed"
    time_in_force = init.time_in_force
    expire_time_ns = init.expire_time_ns
    if time_in_force is _GTD:
        if expire_time_ns is None:
            return "time in force GTD needs expire_time_ns"
    elif expire_time_ns is not None:
        return f"expire_time_ns is only for GTD, time in force is {time_in_force.name}"
    if expire_time_ns is not None and expire_time_ns <= init.ts_init:
        return f"expire_time_ns {expire_time_ns} is not after ts_init {init.ts_init}"
    if init.post_only:
        if not needs_price:
            return "post_only applies to orders with a limit price"
        if time_in_force in _NOT_POST_ONLY:
            return f"post_only contradicts time in force {time_in_force.name}"
    display_quantity = init.display_quantity
    if display_quantity is not None and display_quantity > init.quantity:
        return f"display_quantity {display_quantity} exceeds quantity {init.quantity}"
    if order_type is _MARKET and time_in_force is _GTD:
        return "time in force GTD is not allowed"
    return None


class Order:
    """An order, moved only by events. Build one with :meth:`create` (or an order factory).

    Quantities are exact (``Quantity``); ``avg_px`` is an exact ``Decimal`` of the fills.
    """

    __slots__ = (
        "_previous_status",
        "account_id",
        "client_order_id",
        "commissions",
        "display_quantity",
        "events",
        "expire_time_ns",
        "filled_qty",
        "init",
        "instrument_id",
        "is_triggered",
        "last_trade_id",
        "leaves_qty",
        "liquidity_side",
        "order_list_id",
        "position_id",
        "post_only",
        "price",
        "quantity",
        "reduce_only",
        "side",
        "status",
        "strategy_id",
        "tags",
        "time_in_force",
        "trade_ids",
        "trader_id",
        "trigger_price",
        "trigger_type",
        "ts_init",
        "ts_last",
        "venue_order_id",
    )

    #: The order type this class represents (set on each concrete subclass).
    order_type: OrderType

    def __init__(self, init: OrderInitialized) -> None:
        if type(self) is Order or init.order_type is not self.order_type:
            raise TypeError(
                f"use Order.create for a {init.order_type.name} order (got {type(self).__name__})"
            )
        reason = _specification_error(init)
        if reason is not None:
            raise InvalidOrder(f"order {init.client_order_id} ({init.order_type.name}): {reason}")
        quantity = init.quantity
        self.init = init
        self.trader_id: TraderId = init.trader_id
        self.strategy_id: StrategyId = init.strategy_id
        self.instrument_id: InstrumentId = init.instrument_id
        self.client_order_id: ClientOrderId = init.client_order_id
        self.venue_order_id: VenueOrderId | None = None
        self.account_id: AccountId | None = None
        self.position_id: PositionId | None = init.position_id
        self.order_list_id: OrderListId | None = init.order_list_id
        self.side: OrderSide = init.side
        self.quantity: Quantity = quantity
        self.price: Price | None = init.price
        self.trigger_price: Price | None = init.trigger_price
        self.trigger_type: TriggerType = init.trigger_type
        self.time_in_force: TimeInForce = init.time_in_force
        self.expire_time_ns: int | None = init.expire_time_ns
        self.post_only: bool = init.post_only
        self.reduce_only: bool = init.reduce_only
        self.display_quantity: Quantity | None = init.display_quantity
        self.tags: tuple[str, ...] = init.tags
        self.status: OrderStatus = _INITIALIZED
        self._previous_status: OrderStatus = _INITIALIZED
        self.filled_qty: Quantity = Quantity.from_raw(0, quantity.precision)
        self.leaves_qty: Quantity = quantity
        self.liquidity_side: LiquiditySide = _NO_LIQUIDITY_SIDE
        self.is_triggered = False
        self.trade_ids: set[TradeId] = set()
        self.last_trade_id: TradeId | None = None
        self.commissions: dict[str, Money] = {}
        self.events: list[OrderEvent] = [init]
        self.ts_init: int = init.ts_init
        self.ts_last: int = init.ts_event

    # -- construction ----------------------------------------------------------------------

    @staticmethod
    def create(init: OrderInitialized) -> Order:
        """Build the order of the type ``init.order_type``, validating its specification."""
        return _ORDER_CLASSES[init.order_type](init)

    @staticmethod
    def from_events(events: Iterable[OrderEvent]) -> Order:
        """Rebuild an order by replaying its events (the first must be ``OrderInitialized``)."""
        iterator = iter(events)
        first = next(iterator, None)
        if not isinstance(first, OrderInitialized):
            raise ValueError(f"an order's first event must be OrderInitialized, got {first!r}")
        order = Order.create(first)
        for event in iterator:
            order.apply(event)
        return order

    # -- state machine ---------------------------------------------------------------------

    def apply(self, event: OrderEvent) -> None:
        """Apply ``event``: validate the transition, update state and fields, record it.

        Raises
        ------
        InvalidStateTransition
            If the event is not valid in the current state (the order is unchanged).
        OverfillError, DuplicateFillError
            If a fill exceeds the leaves quantity or repeats a trade id (order unchanged).
        """
        if event.client_order_id != self.client_order_id:
            raise ValueError(
                f"event {type(event).__name__} for order {event.client_order_id} "
                f"applied to order {self.client_order_id}"
            )
        kind = type(event)
        status = self.status
        entry = _KINDS.get(kind)
        target = None if entry is None else entry[0][status]
        if target is None:
            raise InvalidStateTransition(
                f"order {self.client_order_id} in state {status.name} cannot apply {kind.__name__}"
            )
        if kind is OrderFilled:
            assert isinstance(event, OrderFilled)
            self._apply_fill(event)
            if self.leaves_qty.raw == 0:
                new_status = _FILLED
            elif status is _CANCELED or status is _EXPIRED:
                new_status = status
            else:
                new_status = _PARTIALLY_FILLED
        else:
            fields = entry[1]  # type: ignore[index]  # not None: target was found
            if fields & _SETS_MORE:
                self._apply_fields(event, fields)
            elif fields:  # the ids only (acknowledgements, pending, cancels): inlined
                if fields & _SETS_ACCOUNT_ID:
                    account_id = event.account_id  # type: ignore[attr-defined]
                    if account_id is not None:
                        self.account_id = account_id
                if fields & _SETS_VENUE_ORDER_ID:
                    venue_order_id = event.venue_order_id  # type: ignore[attr-defined]
                    if venue_order_id is not None:
                        self.venue_order_id = venue_order_id
            if target is SAME:
                new_status = status
            elif target is PREVIOUS:
                new_status = self._previous_status
            else:
                assert isinstance(target, OrderStatus)
                new_status = target
        if new_status in _PENDING_STATUSES and status not in _PENDING_STATUSES:
            self._previous_status = status
        self.status = new_status
        self.ts_last = event.ts_event
        self.events.append(event)

    def _apply_fields(self, event: OrderEvent, fields: int) -> None:
        # ``fields``: the _SETS_* bits of the event's type. Checks come before any change.
        if fields & _SETS_QUANTITY_AND_PRICES:
            assert isinstance(event, OrderUpdated)
            if event.quantity < self.filled_qty:
                raise InvalidStateTransition(
                    f"order {self.client_order_id}: update to quantity {event.quantity} "
                    f"is below the filled quantity {self.filled_qty}"
                )
        if fields & _SETS_ACCOUNT_ID:
            account_id = event.account_id  # type: ignore[attr-defined]
            if account_id is not None:
                self.account_id = account_id
        if fields & _SETS_VENUE_ORDER_ID:
            venue_order_id = event.venue_order_id  # type: ignore[attr-defined]
            if venue_order_id is not None:
                self.venue_order_id = venue_order_id
        if fields & _SETS_TRIGGERED:
            self.is_triggered = True
        elif fields & _SETS_QUANTITY_AND_PRICES:
            assert isinstance(event, OrderUpdated)
            self.quantity = event.quantity
            self.leaves_qty = event.quantity - self.filled_qty
            if event.price is not None:
                self.price = event.price
            if event.trigger_price is not None:
                self.trigger_price = event.trigger_price

    def _apply_fill(self, fill: OrderFilled) -> None:
        trade_id = fill.trade_id
        if trade_id in self.trade_ids:
            raise DuplicateFillError(
                f"order {self.client_order_id}: trade {trade_id} was already applied"
            )
        last_qty = fill.last_qty
        if last_qty.raw <= 0:
            raise InvalidStateTransition(
                f"order {self.client_order_id}: fill {trade_id} has non-positive "
                f"quantity {last_qty}"
            )
        if last_qty > self.leaves_qty:
            raise OverfillError(
                f"order {self.client_order_id}: fill {trade_id} of {last_qty} exceeds "
                f"leaves quantity {self.leaves_qty} (quantity {self.quantity}, "
                f"filled {self.filled_qty})"
            )
        self.filled_qty = filled = self.filled_qty + last_qty
        self.leaves_qty = self.quantity - filled
        self.trade_ids.add(trade_id)
        self.last_trade_id = trade_id
        self.venue_order_id = fill.venue_order_id
        self.account_id = fill.account_id
        if fill.position_id is not None:
            self.position_id = fill.position_id
        self.liquidity_side = fill.liquidity_side
        commission = fill.commission
        code = commission.currency.code
        commissions = self.commissions
        previous = commissions.get(code)
        commissions[code] = commission if previous is None else previous + commission

    # -- queries ---------------------------------------------------------------------------

    @property
    def avg_px(self) -> Decimal | None:
        """Average fill price (exact quotient of the fills' value by the filled quantity).

        Summed from the applied fills when asked (in the order applied, as Decimal sums them
        per fill), not per fill: it is read once per order, if at all.
        """
        if self.filled_qty.raw == 0:
            return None
        value = _DECIMAL_ZERO
        for event in self.events:
            if type(event) is OrderFilled:
                value += event.last_qty.as_decimal() * event.last_px.as_decimal()
        return value / self.filled_qty.as_decimal()

    @property
    def last_event(self) -> OrderEvent:
        return self.events[-1]

    @property
    def is_open(self) -> bool:
        """Working at the venue (see :data:`OPEN_STATUSES`)."""
        return self.status in OPEN_STATUSES

    @property
    def is_inflight(self) -> bool:
        """Sent and waiting for the venue's answer (see :data:`INFLIGHT_STATUSES`)."""
        return self.status in INFLIGHT_STATUSES

    @property
    def is_closed(self) -> bool:
        """Done (see :data:`CLOSED_STATUSES`)."""
        return self.status in CLOSED_STATUSES

    @property
    def is_buy(self) -> bool:
        return self.side is OrderSide.BUY

    @property
    def is_sell(self) -> bool:
        return self.side is OrderSide.SELL

    @property
    def is_passive(self) -> bool:
        """Whether the order rests on the book (anything but a market order)."""
        return self.order_type is not OrderType.MARKET

    def __repr__(self) -> str:
        price = f" @ {self.price}" if self.price is not None else ""
        trigger = f" trigger {self.trigger_price}" if self.trigger_price is not None else ""
        return (
            f"{type(self).__name__}({self.client_order_id} {self.side.name} {self.quantity} "
            f"{self.instrument_id}{price}{trigger} {self.time_in_force.name} "
            f"status={self.status.name} filled={self.filled_qty})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Order) and other.client_order_id == self.client_order_id

    def __hash__(self) -> int:
        return hash(self.client_order_id)

    def __copy__(self) -> Self:
        raise TypeError("orders are not copied: rebuild one with Order.from_events(order.events)")


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
