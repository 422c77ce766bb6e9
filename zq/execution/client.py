"""The base of every execution client: the simulated exchange and the live venue adapters.

An :class:`ExecutionClient` receives trading commands from the ExecutionEngine
(``submit_order``, ``modify_order``, ``cancel_order``, ``cancel_all_orders``,
``query_order``) and reports what the venue did by handing order events to the sink the engine
gave it at registration (:meth:`ExecutionClient._send_event`). The ``generate_*`` helpers build
those events with the right identifiers and timestamps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from zq.common.clock import Clock
from zq.common.component import Component
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, QueryOrder, SubmitOrder
from zq.model.enums import LiquiditySide, OmsType, OrderSide, OrderType
from zq.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
)
from zq.model.identifiers import (
    AccountId,
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    TradeId,
    TraderId,
    Venue,
    VenueOrderId,
)
from zq_core.fixed import Money, Price, Quantity

__all__ = ["EventSink", "ExecutionClient", "OrderRef"]

#: Where a client hands its events: the ExecutionEngine's ``process``.
EventSink = Callable[[OrderEvent], None]


class OrderRef(Protocol):
    """What identifies an order in an event: an ``Order``, its ``OrderInitialized``, or a
    ``SubmitOrder.order`` / ``ModifyOrder`` / ``CancelOrder`` command all have these."""

    @property
    def trader_id(self) -> TraderId: ...
    @property
    def strategy_id(self) -> StrategyId: ...
    @property
    def instrument_id(self) -> InstrumentId: ...
    @property
    def client_order_id(self) -> ClientOrderId: ...


class ExecutionClient(Component):
    """Send commands to one venue and report its answers as order events.

    Subclasses implement the five command methods; each may raise, in which case the engine
    records the failure on the order (see :class:`~zq.execution.engine.ExecutionEngine`).

    Parameters
    ----------
    client_id : str
        The client's identifier (also its component id).
    venue : Venue or str
        The venue it trades on; the engine routes orders by their instrument's venue.
    account_id : AccountId or str
        The account the orders are placed in (``VENUE-NUMBER``).
    clock : Clock
        The node's clock, for event timestamps.
    oms_type : OmsType, default NETTING
        How positions are kept for this venue: one per instrument and strategy (netting) or
        one per opening order (hedging).
    """

    def __init__(
        self,
        client_id: str,
        venue: Venue | str,
        account_id: AccountId | str,
        clock: Clock,
        oms_type: OmsType = OmsType.NETTING,
    ) -> None:
        super().__init__(client_id)
        self.client_id = client_id
        self.venue = Venue(venue)
        self.account_id = AccountId(account_id)
        self.clock = clock
        self.oms_type = OmsType(oms_type)
        self._sink: EventSink | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.client_id!r}, venue={self.venue}, "
            f"account={self.account_id}, state={self.state.name})"
        )

    # -- wiring --------------------------------------------------------------------------

    def set_event_sink(self, sink: EventSink) -> None:
        """Set where the client's events go (the engine calls this on registration)."""
        self._sink = sink

    def _send_event(self, event: OrderEvent) -> None:
        """Hand one venue event to the engine.

        Raises
        ------
        RuntimeError
            If the client is not registered with an engine.
        """
        if self._sink is None:
            raise RuntimeError(
                f"execution client {self.client_id!r} has no event sink: register it with "
                "ExecutionEngine.register_client first"
            )
        self._sink(event)

    # -- commands (implemented by subclasses) ----------------------------------------------

    def submit_order(self, command: SubmitOrder) -> None:
        """Send a new order to the venue."""
        raise NotImplementedError(f"{type(self).__name__} does not implement submit_order")

    def modify_order(self, command: ModifyOrder) -> None:
        """Ask the venue to change an open order."""
        raise NotImplementedError(f"{type(self).__name__} does not implement modify_order")

    def cancel_order(self, command: CancelOrder) -> None:
        """Ask the venue to cancel an order."""
        raise NotImplementedError(f"{type(self).__name__} does not implement cancel_order")

    def cancel_all_orders(self, command: CancelAllOrders) -> None:
        """Ask the venue to cancel every open order of the strategy on the instrument."""
        raise NotImplementedError(f"{type(self).__name__} does not implement cancel_all_orders")

    def query_order(self, command: QueryOrder) -> None:
        """Ask the venue for an order's state (reconciliation)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement query_order")

    # -- event helpers ---------------------------------------------------------------------

    def _times(self, ts_event: int | None) -> tuple[int, int]:
        now = self.clock.timestamp_ns()
        return (now if ts_event is None else ts_event), now

    @staticmethod
    def _ids(order: OrderRef) -> dict[str, object]:
        return {
            "trader_id": order.trader_id,
            "strategy_id": order.strategy_id,
            "instrument_id": order.instrument_id,
            "client_order_id": order.client_order_id,
        }

    def generate_order_accepted(
        self, order: OrderRef, venue_order_id: VenueOrderId, ts_event: int | None = None
    ) -> OrderAccepted:
        """Return an ``OrderAccepted`` (``ts_event`` default: the clock's time)."""
        ts_event, ts_init = self._times(ts_event)
        return OrderAccepted(
            **self._ids(order),  # type: ignore[arg-type]
            venue_order_id=venue_order_id,
            account_id=self.account_id,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def generate_order_rejected(
        self, order: OrderRef, reason: str, ts_event: int | None = None
    ) -> OrderRejected:
        """Return an ``OrderRejected`` with the venue's reason."""
        ts_event, ts_init = self._times(ts_event)
        return OrderRejected(
            **self._ids(order),  # type: ignore[arg-type]
            account_id=self.account_id,
            reason=reason,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def generate_order_canceled(
        self,
        order: OrderRef,
        venue_order_id: VenueOrderId | None = None,
        ts_event: int | None = None,
    ) -> OrderCanceled:
        """Return an ``OrderCanceled``."""
        ts_event, ts_init = self._times(ts_event)
        return OrderCanceled(
            **self._ids(order),  # type: ignore[arg-type]
            venue_order_id=venue_order_id,
            account_id=self.account_id,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def generate_order_expired(
        self,
        order: OrderRef,
        venue_order_id: VenueOrderId | None = None,
        ts_event: int | None = None,
    ) -> OrderExpired:
        """Return an ``OrderExpired``."""
        ts_event, ts_init = self._times(ts_event)
        return OrderExpired(
            **self._ids(order),  # type: ignore[arg-type]
            venue_order_id=venue_order_id,
            account_id=self.account_id,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def generate_order_triggered(
        self,
        order: OrderRef,
        venue_order_id: VenueOrderId | None = None,
        ts_event: int | None = None,
    ) -> OrderTriggered:
        """Return an ``OrderTriggered``."""
        ts_event, ts_init = self._times(ts_event)
        return OrderTriggered(
            **self._ids(order),  # type: ignore[arg-type]
            venue_order_id=venue_order_id,
            account_id=self.account_id,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def generate_order_updated(
        self,
        order: OrderRef,
        quantity: Quantity,
        price: Price | None = None,
        trigger_price: Price | None = None,
        venue_order_id: VenueOrderId | None = None,
        ts_event: int | None = None,
    ) -> OrderUpdated:
        """Return an ``OrderUpdated`` with the order's new quantity and prices."""
        ts_event, ts_init = self._times(ts_event)
        return OrderUpdated(
            **self._ids(order),  # type: ignore[arg-type]
            quantity=quantity,
            price=price,
            trigger_price=trigger_price,
            venue_order_id=venue_order_id,
            account_id=self.account_id,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def generate_order_modify_rejected(
        self,
        order: OrderRef,
        reason: str,
        venue_order_id: VenueOrderId | None = None,
        ts_event: int | None = None,
    ) -> OrderModifyRejected:
        """Return an ``OrderModifyRejected`` with the venue's reason."""
        ts_event, ts_init = self._times(ts_event)
        return OrderModifyRejected(
            **self._ids(order),  # type: ignore[arg-type]
            reason=reason,
            venue_order_id=venue_order_id,
            account_id=self.account_id,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def generate_order_cancel_rejected(
        self,
        order: OrderRef,
        reason: str,
        venue_order_id: VenueOrderId | None = None,
        ts_event: int | None = None,
    ) -> OrderCancelRejected:
        """Return an ``OrderCancelRejected`` with the venue's reason."""
        ts_event, ts_init = self._times(ts_event)
        return OrderCancelRejected(
            **self._ids(order),  # type: ignore[arg-type]
            reason=reason,
            venue_order_id=venue_order_id,
            account_id=self.account_id,
            ts_event=ts_event,
            ts_init=ts_init,
        )

    def generate_order_filled(
        self,
        order: OrderRef,
        *,
        venue_order_id: VenueOrderId,
        trade_id: TradeId,
        order_side: OrderSide,
        order_type: OrderType,
        last_qty: Quantity,
        last_px: Price,
        commission: Money,
        liquidity_side: LiquiditySide,
        position_id: PositionId | None = None,
        ts_event: int | None = None,
    ) -> OrderFilled:
        """Return an ``OrderFilled``.

        Leave ``position_id`` None unless the venue assigns positions: the engine sets it
        from the venue's position mode.
        """
        ts_event, ts_init = self._times(ts_event)
        return OrderFilled(
            **self._ids(order),  # type: ignore[arg-type]
            venue_order_id=venue_order_id,
            account_id=self.account_id,
            trade_id=trade_id,
            order_side=order_side,
            order_type=order_type,
            last_qty=last_qty,
            last_px=last_px,
            commission=commission,
            liquidity_side=liquidity_side,
            position_id=position_id,
            ts_event=ts_event,
            ts_init=ts_init,
        )
