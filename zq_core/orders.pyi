"""Type stubs for zq_core.orders: the compiled Order (re-exported as zq.model.orders.Order)."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, ClassVar

# Only for the annotations: the compiled module itself never imports zq (the types are
# registered at run time by zq.model.orders).
from zq.model.enums import (
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    TriggerType,
)
from zq.model.events import OrderEvent, OrderInitialized
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
from zq_core.order_ids import OrderIdGenerator

__all__ = ["Order", "OrderBuilder"]

def _register(
    *,
    statuses: tuple[OrderStatus | None, ...],
    table: dict[Any, Any],
    targets: tuple[str, str, str],
    status_sets: dict[str, frozenset[OrderStatus]],
    errors: tuple[type[Exception], ...],
    order_classes: dict[OrderType, type[Order]],
    initialized: type[OrderEvent],
    filled: type[OrderEvent],
    triggered: type[OrderEvent],
    updated: type[OrderEvent],
    members: dict[str, Any],
    decimal_zero: Decimal,
) -> None:
    """Register the Python side of the orders (called once by ``zq.model.orders``)."""

class Order:
    """An order, moved only by events. Build one with :meth:`create` (or an order factory)."""

    #: The order type this class represents (set on each concrete subclass).
    order_type: ClassVar[OrderType]

    @property
    def init(self) -> OrderInitialized: ...
    @property
    def trader_id(self) -> TraderId: ...
    @property
    def strategy_id(self) -> StrategyId: ...
    @property
    def instrument_id(self) -> InstrumentId: ...
    @property
    def client_order_id(self) -> ClientOrderId: ...
    @property
    def venue_order_id(self) -> VenueOrderId | None: ...
    @property
    def account_id(self) -> AccountId | None: ...
    @property
    def position_id(self) -> PositionId | None: ...
    @property
    def order_list_id(self) -> OrderListId | None: ...
    @property
    def side(self) -> OrderSide: ...
    @property
    def quantity(self) -> Quantity: ...
    @property
    def price(self) -> Price | None: ...
    @property
    def trigger_price(self) -> Price | None: ...
    @property
    def trigger_type(self) -> TriggerType: ...
    @property
    def time_in_force(self) -> TimeInForce: ...
    @property
    def expire_time_ns(self) -> int | None: ...
    @property
    def post_only(self) -> bool: ...
    @property
    def reduce_only(self) -> bool: ...
    @property
    def display_quantity(self) -> Quantity | None: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def status(self) -> OrderStatus: ...
    @property
    def filled_qty(self) -> Quantity: ...
    @property
    def leaves_qty(self) -> Quantity: ...
    @property
    def liquidity_side(self) -> LiquiditySide: ...
    @property
    def is_triggered(self) -> bool: ...
    @property
    def trade_ids(self) -> set[TradeId]: ...
    @property
    def last_trade_id(self) -> TradeId | None: ...
    @property
    def commissions(self) -> dict[str, Money]: ...
    @property
    def events(self) -> list[OrderEvent]: ...
    @property
    def ts_init(self) -> int: ...
    @property
    def ts_last(self) -> int: ...
    def __init__(self, init: OrderInitialized) -> None: ...
    @staticmethod
    def create(init: OrderInitialized) -> Order:
        """Build the order of the type ``init.order_type``, validating its specification."""
    @staticmethod
    def from_events(events: Iterable[OrderEvent]) -> Order:
        """Rebuild an order by replaying its events (the first must be ``OrderInitialized``)."""
    def apply(self, event: OrderEvent) -> None:
        """Apply ``event``: validate the transition, update state and fields, record it."""
    @property
    def avg_px(self) -> Decimal | None:
        """Average fill price (exact quotient of the fills' value by the filled quantity)."""
    @property
    def last_event(self) -> OrderEvent: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def is_inflight(self) -> bool: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def is_buy(self) -> bool: ...
    @property
    def is_sell(self) -> bool: ...
    @property
    def is_passive(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __copy__(self) -> Order: ...

class OrderBuilder:
    """Build one strategy's orders in C: the ``OrderInitialized`` and the order."""

    def __init__(
        self, trader_id: TraderId, strategy_id: StrategyId, clock: Any, ids: OrderIdGenerator
    ) -> None: ...
    def market(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        *,
        time_in_force: TimeInForce | None = None,
        reduce_only: bool = False,
        tags: tuple[str, ...] = (),
    ) -> Order: ...
    def limit(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        price: Price,
        *,
        time_in_force: TimeInForce | None = None,
        expire_time_ns: int | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        display_quantity: Quantity | None = None,
        tags: tuple[str, ...] = (),
    ) -> Order: ...
    def build(
        self,
        order_type: OrderType,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Quantity,
        price: Price | None,
        trigger_price: Price | None,
        trigger_type: TriggerType,
        time_in_force: TimeInForce,
        expire_time_ns: int | None,
        post_only: bool,
        reduce_only: bool,
        display_quantity: Quantity | None,
        tags: tuple[str, ...],
    ) -> Order: ...
