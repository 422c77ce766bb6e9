"""Trading commands: submit, modify, cancel, cancel-all and query.

Commands flow Strategy → RiskEngine → ExecutionEngine → execution client. They are frozen
structs, so they can be journaled and sent between processes.

Like the order events, not ``kw_only``: one is made per order, modify and cancel, and
msgspec builds a struct positionally several times faster than from keywords. The field
order is fixed (the shared fields of :class:`TradingCommand`, then each command's own).
"""

from __future__ import annotations

import msgspec

from zq.model.enums import OrderSide
from zq.model.events import OrderInitialized
from zq.model.identifiers import (
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    TraderId,
    VenueOrderId,
)
from zq_core.fixed import Price, Quantity

__all__ = [
    "CancelAllOrders",
    "CancelOrder",
    "ModifyOrder",
    "QueryOrder",
    "SubmitOrder",
    "TradingCommand",
]


class TradingCommand(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Fields shared by every trading command."""

    trader_id: TraderId
    strategy_id: StrategyId
    instrument_id: InstrumentId
    ts_init: int


class SubmitOrder(TradingCommand, frozen=True, gc=False, tag=True):
    """Submit the order described by ``order`` (its initialization event)."""

    order: OrderInitialized
    position_id: PositionId | None = None

    @property
    def client_order_id(self) -> ClientOrderId:
        return self.order.client_order_id


class ModifyOrder(TradingCommand, frozen=True, gc=False, tag=True):
    """Change an open order's quantity and/or prices (fields left ``None`` are kept)."""

    client_order_id: ClientOrderId
    venue_order_id: VenueOrderId | None = None
    quantity: Quantity | None = None
    price: Price | None = None
    trigger_price: Price | None = None

    def __post_init__(self) -> None:
        if self.quantity is None and self.price is None and self.trigger_price is None:
            raise ValueError(f"ModifyOrder for {self.client_order_id} changes nothing")


class CancelOrder(TradingCommand, frozen=True, gc=False, tag=True):
    """Cancel one order."""

    client_order_id: ClientOrderId
    venue_order_id: VenueOrderId | None = None


class CancelAllOrders(TradingCommand, frozen=True, gc=False, tag=True):
    """Cancel every open order of the strategy on the instrument (one side, or both)."""

    order_side: OrderSide = OrderSide.NO_ORDER_SIDE


class QueryOrder(TradingCommand, frozen=True, gc=False, tag=True):
    """Ask the venue for an order's current state (reconciliation)."""

    client_order_id: ClientOrderId
    venue_order_id: VenueOrderId | None = None
