"""The ExecutionEngine: tracks orders on their way out and applies what the venues report.

Command path (``ENDPOINT_EXECUTION``, fed by the RiskEngine): the engine finds the client of
the order's venue, puts the order in flight *before* the client is called (``OrderSubmitted``
applied, cache updated, event published), then calls the client. Modify and cancel go the same
way with ``OrderPendingUpdate`` / ``OrderPendingCancel``.

Event path (:meth:`ExecutionEngine.process`, the sink of every registered client): the event is
applied to the order's state machine, the cache is updated, the event is published on the
strategy's order topic and, for a fill, the portfolio updates the positions, whose events are
published on the strategy's position topic. Events that cannot be applied (unknown order,
repeated trade id, overfill, invalid transition) are dropped, counted, logged and published as
an :class:`ExecutionError` on ``TOPIC_EXECUTION_ERRORS``; the order stays as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from enum import IntEnum, unique
from typing import TYPE_CHECKING, Protocol

import msgspec

from zq.cache import Cache
from zq.common.clock import Clock
from zq.common.component import Component
from zq.common.topics import (
    ENDPOINT_EXECUTION,
    ENDPOINT_EXECUTION_PROCESS,
    TOPIC_EXECUTION_ERRORS,
    order_events,
    position_events,
)
from zq.execution.client import ExecutionClient
from zq.model.commands import (
    CancelAllOrders,
    CancelOrder,
    ModifyOrder,
    QueryOrder,
    SubmitOrder,
    TradingCommand,
)
from zq.model.enums import OmsType, OrderSide
from zq.model.events import (
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
)
from zq.model.identifiers import (
    ClientOrderId,
    InstrumentId,
    PositionId,
    StrategyId,
    Venue,
)
from zq.model.instruments import Instrument
from zq.model.orders import (
    ORDER_STATE_TABLE,
    Order,
)
from zq_core.bus import MessageBus
from zq_core.commands import CommandPath
from zq_core.execution import ExecutionCore

__all__ = [
    "ExecutionEngine",
    "ExecutionError",
    "ExecutionErrorKind",
    "PortfolioLike",
    "PositionEventLike",
]

_log = logging.getLogger("zq.execution")
_NETTING = OmsType.NETTING


class PositionEventLike(Protocol):
    """What the engine needs of a position event (``PositionOpened`` / ``Changed`` / ``Closed``)."""

    @property
    def strategy_id(self) -> StrategyId: ...
    @property
    def position_id(self) -> PositionId: ...
    @property
    def instrument_id(self) -> InstrumentId: ...


class PortfolioLike(Protocol):
    """What the engine (and the RiskEngine) need of the portfolio."""

    def process_fill(
        self, fill: OrderFilled, instrument: Instrument
    ) -> Sequence[PositionEventLike]:
        """Update positions and accounts with ``fill``; return the position events."""
        ...

    def net_position(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
    ) -> Decimal:
        """Return the signed net quantity (long positive) of the instrument."""
        ...


@unique
class ExecutionErrorKind(IntEnum):
    """Why the engine refused an event or could not carry out a command."""

    UNKNOWN_ORDER = 1
    DUPLICATE_FILL = 2
    OVERFILL = 3
    INVALID_TRANSITION = 4
    CLIENT_ERROR = 5
    UNKNOWN_INSTRUMENT = 6
    PORTFOLIO_ERROR = 7


class ExecutionError(msgspec.Struct, frozen=True, gc=False, tag=True):
    """Published on ``TOPIC_EXECUTION_ERRORS`` for each event or command the engine refused."""

    kind: ExecutionErrorKind
    client_order_id: ClientOrderId | None
    message: str
    ts_event: int
    event: OrderEvent | None = None


class ExecutionEngine(ExecutionCore, Component):
    """Route trading commands to the venues' clients and apply their events to the orders.

    Parameters
    ----------
    clock : Clock
        The node's clock.
    bus : MessageBus
        The node's bus. The engine registers ``ENDPOINT_EXECUTION`` (commands) and
        ``ENDPOINT_EXECUTION_PROCESS`` (events) on it.
    cache : Cache
        The node's cache of instruments and orders.
    portfolio : PortfolioLike
        Receives every applied fill (``process_fill``) and returns the position events.
    component_id : str, default "ExecutionEngine"

    Notes
    -----
    Failure semantics, each of them tested:

    - no client for the order's venue: the order is denied (``OrderDenied``, it never left);
    - the client raises in ``submit_order``: the order, already ``SUBMITTED``, is rejected
      (``OrderRejected`` whose reason holds the exception); on ``modify_order`` /
      ``cancel_order`` the order gets ``OrderModifyRejected`` / ``OrderCancelRejected`` and
      returns to its previous state. The exception is logged and counted
      (:attr:`client_errors`), not raised;
    - a fill whose trade id the order already has is dropped (:attr:`duplicate_fills`);
    - a fill larger than the leaves quantity is refused (:attr:`overfills`);
    - an event for an order not in the cache is dropped (:attr:`unknown_events`);
    - an event invalid in the order's state is dropped (:attr:`invalid_events`);
    - the portfolio raising on a fill (a cash account refusing it): the order keeps the
      fill, the error is reported (:attr:`portfolio_errors`) and re-raised, so a backtest
      stops and a live bus logs it.

    Positions: with ``OmsType.NETTING`` each fill gets the position id
    ``{instrument_id}-{strategy_id}``; with ``HEDGING`` the id of the position the order
    was submitted for (``SubmitOrder.position_id`` or the order's), else
    ``{instrument_id}-{strategy_id}-{client_order_id}`` (a new position per opening order).
    A fill that already carries a position id keeps it.
    """

    def __init__(
        self,
        clock: Clock,
        bus: MessageBus,
        cache: Cache,
        portfolio: PortfolioLike,
        *,
        component_id: str = "ExecutionEngine",
    ) -> None:
        super().__init__(component_id)
        self.clock = clock
        self.bus = bus
        self.cache = cache
        self.portfolio = portfolio
        self._clients: dict[str, ExecutionClient] = {}
        self._routes: dict[Venue, ExecutionClient] = {}
        # Per instrument: its venue's client (None: no client), and per (instrument,
        # strategy) its netting position id; filled on first use, routes reset on
        # registration.
        self._instrument_routes: dict[InstrumentId, ExecutionClient | None] = {}
        self._netting_ids: dict[tuple[InstrumentId, StrategyId], PositionId] = {}
        self._position_ids: dict[ClientOrderId, PositionId] = {}
        self._reset_counters()
        # The usual submit, modify and cancel carried out in C (zq_core.commands), unless a
        # subclass hooks one of their methods (the journal's hooks _submit): then every
        # command goes to execute.
        cls = type(self)
        if all(
            getattr(cls, name) is getattr(ExecutionEngine, name)
            for name in ("execute", "_submit", "_modify", "_cancel", "_pending")
        ):
            path = CommandPath(
                self,
                (
                    SubmitOrder,
                    OrderSubmitted,
                    ModifyOrder,
                    OrderPendingUpdate,
                    CancelOrder,
                    OrderPendingCancel,
                ),
                ORDER_STATE_TABLE,
                self.execute,
            )
            bus.register(ENDPOINT_EXECUTION, path.execute)
        else:
            bus.register(ENDPOINT_EXECUTION, self.execute)
        bus.register(ENDPOINT_EXECUTION_PROCESS, self.process)

    def _reset_counters(self) -> None:
        self.duplicate_fills = 0
        self.overfills = 0
        self.unknown_events = 0
        self.invalid_events = 0
        self.client_errors = 0
        self.portfolio_errors = 0

    # -- clients -------------------------------------------------------------------------

    @property
    def clients(self) -> list[ExecutionClient]:
        """The registered clients, in registration order."""
        return list(self._clients.values())

    def register_client(self, client: ExecutionClient) -> None:
        """Route the orders of ``client.venue`` to ``client`` and take its events.

        A client registered with a running engine is started at once; clients start and
        stop with the engine.

        Raises
        ------
        ValueError
            If a client with the same id, or for the same venue, is already registered.
        """
        if client.client_id in self._clients:
            raise ValueError(f"an execution client {client.client_id!r} is already registered")
        if client.venue in self._routes:
            other = self._routes[client.venue].client_id
            raise ValueError(f"venue {client.venue} is already served by client {other!r}")
        client.set_event_sink(self.process)
        self._clients[client.client_id] = client
        self._routes[client.venue] = client
        self._instrument_routes.clear()
        self._forget_netting_ids()  # an instrument without a client was netted until now
        if self.is_running and not client.is_running:
            client.start()

    def client_for(self, venue: Venue) -> ExecutionClient | None:
        """Return the client serving ``venue``, or None."""
        return self._routes.get(venue)

    def _client_for_instrument(self, instrument_id: InstrumentId) -> ExecutionClient | None:
        routes = self._instrument_routes
        if instrument_id in routes:
            return routes[instrument_id]
        client = routes[instrument_id] = self._routes.get(instrument_id.venue)
        return client

    def _on_start(self) -> None:
        for client in self._clients.values():
            if not client.is_running:
                client.start() if not client.is_stopped else client.resume()

    def _on_resume(self) -> None:
        self._on_start()

    def _on_stop(self) -> None:
        for client in reversed(self._clients.values()):
            if client.is_running:
                client.stop()

    def _on_reset(self) -> None:
        self._position_ids.clear()
        self._forget_netting_ids()
        self._reset_counters()

    # -- commands ------------------------------------------------------------------------

    def execute(self, command: TradingCommand) -> None:
        """Carry out a trading command (the ``ENDPOINT_EXECUTION`` handler).

        Raises
        ------
        TypeError
            If ``command`` is not a trading command.
        """
        kind = type(command)
        if kind is SubmitOrder:  # the usual commands by exact type first: one comparison
            self._submit(command)  # type: ignore[arg-type]
        elif kind is CancelOrder:
            self._cancel(command)  # type: ignore[arg-type]
        elif kind is ModifyOrder:
            self._modify(command)  # type: ignore[arg-type]
        elif isinstance(command, SubmitOrder):
            self._submit(command)
        elif isinstance(command, ModifyOrder):
            self._modify(command)
        elif isinstance(command, CancelOrder):
            self._cancel(command)
        elif isinstance(command, CancelAllOrders):
            self._cancel_all(command)
        elif isinstance(command, QueryOrder):
            client = self._routes.get(command.instrument_id.venue)
            if client is None:
                self._report(
                    ExecutionErrorKind.CLIENT_ERROR,
                    command.client_order_id,
                    f"no execution client for venue {command.instrument_id.venue}",
                )
                return
            self._call(client, "query_order", command)
        else:
            raise TypeError(
                f"{self.component_id} cannot execute a {type(command).__name__}: expected a "
                "trading command of zq.model.commands"
            )

    def _submit(self, command: SubmitOrder) -> None:
        init = command.order
        order = self.cache.order(init.client_order_id)
        if order is None:
            order = Order.create(init)
            self.cache.add_order(order)
        now = self.clock.timestamp_ns()
        instrument_id = order.instrument_id
        routes = self._instrument_routes  # _client_for_instrument inlined for a routed one
        client = (
            routes[instrument_id]
            if instrument_id in routes
            else self._client_for_instrument(instrument_id)
        )
        if client is None:
            known = ", ".join(sorted(self._routes)) or "none"
            self._apply_local(
                order,
                OrderDenied(
                    trader_id=order.trader_id,
                    strategy_id=order.strategy_id,
                    instrument_id=instrument_id,
                    client_order_id=order.client_order_id,
                    reason=(
                        f"no execution client for venue {instrument_id.venue} "
                        f"(registered venues: {known})"
                    ),
                    ts_event=now,
                    ts_init=now,
                ),
            )
            return
        position_id = command.position_id or order.position_id
        if position_id is not None:
            self._position_ids[order.client_order_id] = position_id
        # Pre-submission tracking: in flight in the cache before the client sees it.
        if not self._apply_local(
            order,
            OrderSubmitted(  # positional: the field order of OrderSubmitted
                order.trader_id,
                order.strategy_id,
                instrument_id,
                order.client_order_id,
                now,  # ts_event
                now,  # ts_init
                client.account_id,
            ),
        ):
            return
        try:
            client.submit_order(command)
        except Exception as exc:
            self._submit_failed(client, order, exc)

    def _submit_failed(self, client: ExecutionClient, order: Order, exc: Exception) -> None:
        """The client raised in ``submit_order``: report it; the order, in flight, is rejected."""
        self._client_failed(client, "submit_order", order, exc)
        now = self.clock.timestamp_ns()
        self._apply_local(
            order,
            OrderRejected(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                client_order_id=order.client_order_id,
                account_id=client.account_id,
                reason=f"execution client {client.client_id} failed to submit: {exc!r}",
                ts_event=now,
                ts_init=now,
            ),
        )

    def _modify(self, command: ModifyOrder) -> None:
        self._pending(command, OrderPendingUpdate)

    def _cancel(self, command: CancelOrder) -> None:
        self._pending(command, OrderPendingCancel)

    def _pending(
        self,
        command: ModifyOrder | CancelOrder,
        kind: type[OrderPendingUpdate] | type[OrderPendingCancel],
    ) -> None:
        order = self.cache.order(command.client_order_id)
        what = "modify" if kind is OrderPendingUpdate else "cancel"
        if order is None:
            self.unknown_events += 1
            self._report(
                ExecutionErrorKind.UNKNOWN_ORDER,
                command.client_order_id,
                f"{what} for unknown order {command.client_order_id}",
            )
            return
        client = self._client_for_instrument(order.instrument_id)
        reason = None
        if client is None:
            reason = f"no execution client for venue {order.instrument_id.venue}"
        elif (order.status, kind) not in ORDER_STATE_TABLE:
            reason = f"order {order.client_order_id} is {order.status.name}: cannot {what}"
        if reason is not None or client is None:
            self._refuse_request(order, what, reason or "")
            return
        now = self.clock.timestamp_ns()
        pending = kind(  # positional: the field order of both pending events
            order.trader_id,
            order.strategy_id,
            order.instrument_id,
            order.client_order_id,
            now,  # ts_event
            now,  # ts_init
            order.venue_order_id,
            order.account_id,
        )
        if not self._apply_local(order, pending):
            return
        try:
            if isinstance(command, ModifyOrder):
                client.modify_order(command)
            else:
                client.cancel_order(command)
        except Exception as exc:
            self._pending_failed(client, order, what, exc)

    def _pending_failed(
        self, client: ExecutionClient, order: Order, what: str, exc: Exception
    ) -> None:
        """The client raised on a modify or cancel: report it; the request is refused."""
        self._client_failed(client, f"{what}_order", order, exc)
        self._refuse_request(order, what, f"execution client {client.client_id} failed: {exc!r}")

    def _refuse_request(self, order: Order, what: str, reason: str) -> None:
        """Answer a modify or cancel that cannot go out; applied when the state allows it."""
        now = self.clock.timestamp_ns()
        event: OrderModifyRejected | OrderCancelRejected
        kind = OrderModifyRejected if what == "modify" else OrderCancelRejected
        event = kind(
            trader_id=order.trader_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            client_order_id=order.client_order_id,
            reason=reason,
            venue_order_id=order.venue_order_id,
            account_id=order.account_id,
            ts_event=now,
            ts_init=now,
        )
        if (order.status, kind) in ORDER_STATE_TABLE:
            self._apply_local(order, event)
        else:
            self.bus.publish(order_events(order.strategy_id), event)

    def _cancel_all(self, command: CancelAllOrders) -> None:
        side = None if command.order_side is OrderSide.NO_ORDER_SIDE else command.order_side
        client = self._routes.get(command.instrument_id.venue)
        if client is None:
            self._report(
                ExecutionErrorKind.CLIENT_ERROR,
                None,
                f"cancel all: no execution client for venue {command.instrument_id.venue}",
            )
            return
        orders = {
            order.client_order_id: order
            for order in (
                *self.cache.orders_open(
                    instrument_id=command.instrument_id,
                    strategy_id=command.strategy_id,
                    side=side,
                ),
                *self.cache.orders_inflight(
                    instrument_id=command.instrument_id,
                    strategy_id=command.strategy_id,
                    side=side,
                ),
            )
        }
        now = self.clock.timestamp_ns()
        for order in orders.values():
            if (order.status, OrderPendingCancel) in ORDER_STATE_TABLE:
                self._apply_local(
                    order,
                    OrderPendingCancel(
                        trader_id=order.trader_id,
                        strategy_id=order.strategy_id,
                        instrument_id=order.instrument_id,
                        client_order_id=order.client_order_id,
                        venue_order_id=order.venue_order_id,
                        account_id=order.account_id,
                        ts_event=now,
                        ts_init=now,
                    ),
                )
        self._call(client, "cancel_all_orders", command)

    def _call(
        self, client: ExecutionClient, method: str, command: CancelAllOrders | QueryOrder
    ) -> None:
        try:
            getattr(client, method)(command)
        except Exception as exc:
            self._client_failed(client, method, None, exc)

    def _client_failed(
        self, client: ExecutionClient, method: str, order: Order | None, exc: Exception
    ) -> None:
        self.client_errors += 1
        coid = None if order is None else order.client_order_id
        _log.error("%s: %s.%s raised %r", self.component_id, client.client_id, method, exc)
        self._report(
            ExecutionErrorKind.CLIENT_ERROR,
            coid,
            f"execution client {client.client_id} raised in {method}: {exc!r}",
        )

    # -- events --------------------------------------------------------------------------

    # process, _process_fill, _position_id, _apply_venue and _apply_local are compiled
    # (zq_core.execution.ExecutionCore); what that core cannot import, it reads here.
    _error_kinds = ExecutionErrorKind
    _order_topic = staticmethod(order_events)
    _position_topic = staticmethod(position_events)
    _position_id_type = PositionId
    _netting = _NETTING

    if TYPE_CHECKING:  # the compiled event path, typed for mypy
        cache: Cache

        def process(self, event: OrderEvent, /) -> None: ...
        def _position_id(self, order: Order) -> PositionId: ...
        def _apply_venue(self, order: Order, event: OrderEvent) -> bool: ...
        def _apply_local(self, order: Order, event: OrderEvent) -> bool: ...

    def _report(
        self,
        kind: ExecutionErrorKind,
        client_order_id: ClientOrderId | None,
        message: str,
        event: OrderEvent | None = None,
    ) -> None:
        _log.warning("%s: %s: %s", self.component_id, kind.name, message)
        self.bus.publish(
            TOPIC_EXECUTION_ERRORS,
            ExecutionError(kind, client_order_id, message, self.clock.timestamp_ns(), event),
        )
