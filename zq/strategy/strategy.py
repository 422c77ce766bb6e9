"""``Actor`` and ``Strategy``: the classes users subclass.

An :class:`Actor` receives market data and timer events and has a lifecycle; a
:class:`Strategy` is an actor that also trades. Neither knows its environment: it talks only
through the bus, cache, clock and portfolio given to :meth:`Actor.register`, so the same class
runs in a backtest and live.

Wiring (done by a node, or by hand in tests)::

    strategy.register(kernel.trader_id, kernel.clock, kernel.bus, kernel.cache, portfolio)
    kernel.add_component(strategy)      # started and stopped with the kernel
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import msgspec

from zq.cache import Cache
from zq.common import topics
from zq.common.clock import Clock
from zq.common.component import Component, ComponentState
from zq.common.topics import ENDPOINT_DATA_EXECUTE, ENDPOINT_RISK
from zq.data.messages import (
    SubscribeBars,
    SubscribeBookDeltas,
    SubscribeBookSnapshots,
    SubscribeOrderBook,
    SubscribeQuotes,
    SubscribeTopOfBook,
    SubscribeTrades,
    UnsubscribeBars,
    UnsubscribeBookDeltas,
    UnsubscribeBookSnapshots,
    UnsubscribeOrderBook,
    UnsubscribeQuotes,
    UnsubscribeTopOfBook,
    UnsubscribeTrades,
)
from zq.model.commands import CancelAllOrders, CancelOrder, ModifyOrder, SubmitOrder
from zq.model.data import Bar, BarType, OrderBookDelta, OrderBookDepth, QuoteTick, TradeTick
from zq.model.enums import BookType, OrderSide, TimeInForce
from zq.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from zq.model.identifiers import InstrumentId, PositionId, StrategyId, TraderId
from zq.model.orders import Order
from zq.strategy.order_factory import OrderFactory
from zq_core.book_base import OrderBook
from zq_core.bus import Gate, MessageBus
from zq_core.callbacks import ASSIGNED, CallbackSlot, EventCallbacks
from zq_core.fixed import Price, Quantity
from zq_core.strategy import OrderSender, Required, SentCommand

__all__ = ["Actor", "NoParams", "PortfolioView", "PositionView", "Strategy"]

_RUNNING = ComponentState.RUNNING
_COUNT_KEY = "zq.order_factory.count"


class NoParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The parameters of an actor or strategy that has none."""


P = TypeVar("P", bound=msgspec.Struct)


class PortfolioView(Protocol):
    """What a strategy reads from the portfolio."""

    def net_position(
        self, instrument_id: InstrumentId, strategy_id: StrategyId | None = None
    ) -> Decimal:
        """Return the signed net quantity (long positive) of the instrument."""
        ...


class PositionView(Protocol):
    """What :meth:`Strategy.close_position` needs of a position."""

    @property
    def id(self) -> PositionId: ...
    @property
    def instrument_id(self) -> InstrumentId: ...
    @property
    def strategy_id(self) -> StrategyId: ...
    @property
    def signed_qty(self) -> Decimal: ...


class Actor(Component, Generic[P]):
    """A component that receives data and timer events; subclass it and override ``on_*``.

    Parameters
    ----------
    params : msgspec.Struct, optional
        Typed parameters, replaceable while running (:meth:`update_params`).
    actor_id : str, optional
        The component id; default ``{ClassName}-001``.
    """

    def __init__(self, params: P | None = None, *, actor_id: str | None = None) -> None:
        super().__init__(actor_id or f"{type(self).__name__}-001")
        self._params: P = params if params is not None else cast(P, NoParams())
        self._trader_id: TraderId | None = None
        self._clock: Clock | None = None
        self._bus: MessageBus | None = None
        self._cache: Cache | None = None
        self._portfolio: Any = None
        self._gates: dict[str, Gate] = {}
        self.add_state_listener(self._open_gates)  # first: before any other listener runs

    # -- wiring --------------------------------------------------------------------------

    def register(
        self,
        trader_id: TraderId,
        clock: Clock,
        bus: MessageBus,
        cache: Cache,
        portfolio: Any = None,
    ) -> None:
        """Give the actor the node it runs in; call once, before it starts.

        Parameters
        ----------
        trader_id : TraderId
        clock : Clock
        bus : MessageBus
        cache : Cache
        portfolio : PortfolioView, optional
            Needed by strategies (positions, risk); optional for actors.

        Raises
        ------
        RuntimeError
            If the actor is already registered.
        """
        if self._bus is not None:
            raise RuntimeError(f"{self.component_id} is already registered")
        self._trader_id = TraderId(trader_id)
        self._clock = clock
        self._bus = bus
        self._cache = cache
        self._portfolio = portfolio
        self._on_register()

    def _on_register(self) -> None:
        """Subscribe to what the subclass needs from the moment it is registered."""

    def _need(self, value: Any, what: str) -> Any:
        if value is None:
            raise self._unregistered(what)
        return value

    def _unregistered(self, what: str) -> RuntimeError:
        return RuntimeError(f"{self.component_id} is not registered: it has no {what} yet")

    # The registered parts, read in C (zq_core.strategy.Required: no interpreter frame per
    # read, as a property would take); each raises "is not registered" while it is unset.
    #: The node's trader id.
    trader_id: Required[TraderId] = Required("_trader_id", "trader id")
    #: The node's clock: read the time, set timers and time alerts.
    clock: Required[Clock] = Required("_clock", "clock")
    #: The node's message bus.
    bus: Required[MessageBus] = Required("_bus", "bus")
    #: The node's cache (read it; the engines keep it).
    cache: Required[Cache] = Required("_cache", "cache")
    #: The node's portfolio (read it).
    portfolio: Required[Any] = Required("_portfolio", "portfolio")

    # -- parameters ------------------------------------------------------------------------

    #: The current parameters.
    params: Required[P] = Required("_params", None)

    def update_params(self, new: P | Mapping[str, Any]) -> None:
        """Replace the parameters and call :meth:`on_params_changed`.

        ``new`` is a struct of the same type, or a mapping of the fields to change. Either
        way the result is validated as the parameter type (msgspec constraints included).

        Raises
        ------
        TypeError
            If ``new`` is a struct of another type.
        msgspec.ValidationError
            If the values do not validate; the parameters are unchanged.
        """
        old = self._params
        kind = type(old)
        if isinstance(new, Mapping):
            merged = {**msgspec.structs.asdict(old), **new}
        elif type(new) is kind:
            merged = msgspec.structs.asdict(new)
        else:
            raise TypeError(
                f"{self.component_id}: params must be a {kind.__name__}, got {type(new).__name__}"
            )
        validated = msgspec.convert(msgspec.to_builtins(merged), kind, strict=False)
        self._params = validated
        self.on_params_changed(old, validated)

    def on_params_changed(self, old: P, new: P) -> None:
        """Called after the parameters were replaced."""

    # -- lifecycle hooks for users ---------------------------------------------------------

    def on_start(self) -> None:
        """Called when the actor starts: subscribe to data, set timers."""

    def on_stop(self) -> None:
        """Called when the actor stops."""

    def on_resume(self) -> None:
        """Called when the actor resumes after a stop."""

    def on_reset(self) -> None:
        """Called on reset: return your state to what it was after construction."""

    def on_dispose(self) -> None:
        """Called when the actor is disposed of for good."""

    def on_save(self) -> dict[str, bytes]:
        """Return the state to keep across restarts."""
        return {}

    def on_load(self, state: dict[str, bytes]) -> None:
        """Restore the state returned by :meth:`on_save`."""

    def save(self) -> dict[str, bytes]:
        """Return the actor's state (the user's :meth:`on_save` plus zq's own keys)."""
        return dict(self.on_save())

    def load(self, state: dict[str, bytes]) -> None:
        """Restore a state returned by :meth:`save`."""
        self.on_load(dict(state))

    def _on_start(self) -> None:
        self._need(self._bus, "bus (call register first)")
        self.on_start()

    def _on_stop(self) -> None:
        self.on_stop()

    def _on_resume(self) -> None:
        self.on_resume()

    def _on_reset(self) -> None:
        self.on_reset()

    def _on_dispose(self) -> None:
        self.on_dispose()

    # -- data callbacks for users ----------------------------------------------------------

    def on_quote(self, quote: QuoteTick) -> None:
        """Called with each quote subscribed to."""

    def on_trade(self, trade: TradeTick) -> None:
        """Called with each trade subscribed to."""

    def on_bar(self, bar: Bar) -> None:
        """Called with each bar subscribed to."""

    def on_book(self, book: OrderBookDelta | OrderBookDepth | Any) -> None:
        """Called with each book delta (or delta batch) or snapshot subscribed to."""

    def on_data(self, data: Any) -> None:
        """Called with custom data from :meth:`subscribe_data` topics."""

    # Data reaches the user only while running (a stopped actor keeps its subscriptions).
    # The bus checks that through a gate per callback, open while running (no Python call in
    # between); a callback is looked up when its kind of data is first subscribed.
    def _gate(self, callback: str) -> Gate:
        gate = self._gates.get(callback)
        if gate is None:
            gate = Gate(getattr(self, callback), self._state is _RUNNING)
            self._gates[callback] = gate
        return gate

    def _open_gates(
        self, component: Component, previous: ComponentState, state: ComponentState
    ) -> None:
        running = state is _RUNNING
        for gate in self._gates.values():
            gate.open = running

    @property
    def _handle_quote(self) -> Gate:
        return self._gate("on_quote")

    @property
    def _handle_trade(self) -> Gate:
        return self._gate("on_trade")

    @property
    def _handle_bar(self) -> Gate:
        return self._gate("on_bar")

    @property
    def _handle_book(self) -> Gate:
        return self._gate("on_book")

    @property
    def _handle_data(self) -> Gate:
        return self._gate("on_data")

    # -- subscriptions ---------------------------------------------------------------------

    def _subscribe(self, topic: str, handler: Callable[[Any], None], command: object) -> None:
        # The topic first: data published while the command is handled is not missed.
        if not self.bus.is_subscribed(topic, handler):
            self.bus.subscribe(topic, handler)
        self.bus.send(ENDPOINT_DATA_EXECUTE, command)

    def _unsubscribe(self, topic: str, handler: Callable[[Any], None], command: object) -> None:
        if self.bus.is_subscribed(topic, handler):
            self.bus.unsubscribe(topic, handler)
        self.bus.send(ENDPOINT_DATA_EXECUTE, command)

    def subscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Receive the instrument's quotes in :meth:`on_quote`."""
        self._subscribe(
            topics.quotes(instrument_id),
            self._handle_quote,
            SubscribeQuotes(instrument_id, self.component_id),
        )

    def unsubscribe_quotes(self, instrument_id: InstrumentId) -> None:
        """Stop receiving the instrument's quotes."""
        self._unsubscribe(
            topics.quotes(instrument_id),
            self._handle_quote,
            UnsubscribeQuotes(instrument_id, self.component_id),
        )

    def subscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Receive the instrument's trades in :meth:`on_trade`."""
        self._subscribe(
            topics.trades(instrument_id),
            self._handle_trade,
            SubscribeTrades(instrument_id, self.component_id),
        )

    def unsubscribe_trades(self, instrument_id: InstrumentId) -> None:
        """Stop receiving the instrument's trades."""
        self._unsubscribe(
            topics.trades(instrument_id),
            self._handle_trade,
            UnsubscribeTrades(instrument_id, self.component_id),
        )

    def subscribe_bars(self, bar_type: BarType) -> None:
        """Receive the bars of ``bar_type`` in :meth:`on_bar`."""
        self._subscribe(
            topics.bars(bar_type), self._handle_bar, SubscribeBars(bar_type, self.component_id)
        )

    def unsubscribe_bars(self, bar_type: BarType) -> None:
        """Stop receiving the bars of ``bar_type``."""
        self._unsubscribe(
            topics.bars(bar_type), self._handle_bar, UnsubscribeBars(bar_type, self.component_id)
        )

    def subscribe_book_deltas(
        self, instrument_id: InstrumentId, book_type: BookType = BookType.L2_MBP
    ) -> None:
        """Receive the instrument's book deltas in :meth:`on_book`."""
        self._subscribe(
            topics.book_deltas(instrument_id),
            self._handle_book,
            SubscribeBookDeltas(instrument_id, book_type, self.component_id),
        )

    def unsubscribe_book_deltas(
        self, instrument_id: InstrumentId, book_type: BookType = BookType.L2_MBP
    ) -> None:
        """Stop receiving the instrument's book deltas."""
        self._unsubscribe(
            topics.book_deltas(instrument_id),
            self._handle_book,
            UnsubscribeBookDeltas(instrument_id, book_type, self.component_id),
        )

    def subscribe_book_snapshots(
        self,
        instrument_id: InstrumentId,
        depth: int = 10,
        interval_ms: int = 1_000,
        book_type: BookType = BookType.L2_MBP,
    ) -> None:
        """Receive a snapshot of the top ``depth`` levels every ``interval_ms`` in
        :meth:`on_book`."""
        self._subscribe(
            topics.book_snapshots(instrument_id, depth, interval_ms),
            self._handle_book,
            SubscribeBookSnapshots(instrument_id, book_type, depth, interval_ms, self.component_id),
        )

    def unsubscribe_book_snapshots(
        self,
        instrument_id: InstrumentId,
        depth: int = 10,
        interval_ms: int = 1_000,
        book_type: BookType = BookType.L2_MBP,
    ) -> None:
        """Stop receiving the snapshots."""
        self._unsubscribe(
            topics.book_snapshots(instrument_id, depth, interval_ms),
            self._handle_book,
            UnsubscribeBookSnapshots(
                instrument_id, book_type, depth, interval_ms, self.component_id
            ),
        )

    def subscribe_order_book(
        self, instrument_id: InstrumentId, book_type: BookType = BookType.L2_MBP
    ) -> None:
        """Have the instrument's book kept, to read with :meth:`order_book` (no callback
        per change: read it on a timer, say)."""
        self.bus.send(
            ENDPOINT_DATA_EXECUTE, SubscribeOrderBook(instrument_id, book_type, self.component_id)
        )

    def unsubscribe_order_book(
        self, instrument_id: InstrumentId, book_type: BookType = BookType.L2_MBP
    ) -> None:
        """Stop having the book kept for this component."""
        self.bus.send(
            ENDPOINT_DATA_EXECUTE, UnsubscribeOrderBook(instrument_id, book_type, self.component_id)
        )

    def order_book(self, instrument_id: InstrumentId) -> OrderBook | None:
        """Return the instrument's book as the DataEngine keeps it (None before any book
        subscription and until the instrument is known). Read it; do not change it."""
        book: OrderBook | None = self.cache.order_book(instrument_id)
        return book

    def subscribe_top_of_book(
        self, instrument_id: InstrumentId, depth: int = 1, book_type: BookType = BookType.L2_MBP
    ) -> None:
        """Receive the top ``depth`` levels of the book in :meth:`on_book` (an
        ``OrderBookDepth``) whenever they change at the end of a venue event."""
        self._subscribe(
            topics.book_top(instrument_id, depth),
            self._handle_book,
            SubscribeTopOfBook(instrument_id, book_type, depth, self.component_id),
        )

    def unsubscribe_top_of_book(
        self, instrument_id: InstrumentId, depth: int = 1, book_type: BookType = BookType.L2_MBP
    ) -> None:
        """Stop receiving the top levels."""
        self._unsubscribe(
            topics.book_top(instrument_id, depth),
            self._handle_book,
            UnsubscribeTopOfBook(instrument_id, book_type, depth, self.component_id),
        )

    def subscribe_data(self, topic: str) -> None:
        """Receive whatever is published on ``topic`` (a pattern) in :meth:`on_data`."""
        if not self.bus.is_subscribed(topic, self._handle_data):
            self.bus.subscribe(topic, self._handle_data)

    def unsubscribe_data(self, topic: str) -> None:
        """Stop receiving ``topic``."""
        if self.bus.is_subscribed(topic, self._handle_data):
            self.bus.unsubscribe(topic, self._handle_data)


_ORDER_CALLBACKS: dict[type[OrderEvent], str] = {
    OrderDenied: "on_order_denied",
    OrderSubmitted: "on_order_submitted",
    OrderAccepted: "on_order_accepted",
    OrderRejected: "on_order_rejected",
    OrderCanceled: "on_order_canceled",
    OrderExpired: "on_order_expired",
    OrderTriggered: "on_order_triggered",
    OrderPendingUpdate: "on_order_pending_update",
    OrderPendingCancel: "on_order_pending_cancel",
    OrderModifyRejected: "on_order_modify_rejected",
    OrderCancelRejected: "on_order_cancel_rejected",
    OrderUpdated: "on_order_updated",
    OrderFilled: "on_order_filled",
}

# Position events come from the portfolio; dispatched by class name so this module does not
# depend on the portfolio's implementation.
_POSITION_CALLBACKS: dict[str, str] = {
    "PositionOpened": "on_position_opened",
    "PositionChanged": "on_position_changed",
    "PositionClosed": "on_position_closed",
}


class Strategy(Actor[P]):
    """An actor that trades. Subclass it; override the ``on_*`` callbacks you need.

    Parameters
    ----------
    params : msgspec.Struct, optional
        Typed parameters, replaceable while running (:meth:`update_params`).
    strategy_id : str, optional
        ``NAME-TAG``; default ``{ClassName}-{order_id_tag}``.
    order_id_tag : str, default "001"
        The strategy's tag in its order ids; unique per trader.

    Notes
    -----
    Orders go ``submit_order`` → ``ENDPOINT_RISK`` → ExecutionEngine → venue. The
    strategy's order events arrive on ``topics.order_events(strategy_id)`` and its position
    events on ``topics.position_events(strategy_id)``, whatever the strategy's state, so it
    sees what becomes of orders it sent before it stopped. For each order event the specific
    callback (``on_order_filled``...) runs first, then ``on_order_event``.
    """

    def __init__(
        self,
        params: P | None = None,
        *,
        strategy_id: str | None = None,
        order_id_tag: str = "001",
    ) -> None:
        strategy_id = StrategyId(strategy_id or f"{type(self).__name__}-{order_id_tag}")
        super().__init__(params, actor_id=strategy_id)
        self.id: StrategyId = strategy_id
        self._order_factory: OrderFactory | None = None
        self._sender: OrderSender | None = None
        self._overridden = _overridden_callbacks(type(self))
        self._order_callbacks: EventCallbacks | None = None
        self._position_callbacks: EventCallbacks | None = None
        self._order_delivery: Callable[[Any], None] | None = None
        self._position_delivery: Callable[[Any], None] | None = None

    def _on_register(self) -> None:
        self._order_factory = OrderFactory(self.trader_id, self.id, self.clock)
        # The commands are built and sent in C (zq_core.strategy), as submit_order,
        # modify_order and cancel_order below describe.
        self._sender = OrderSender(
            self.trader_id,
            self.id,
            self.cache,
            self.bus,
            self.clock,
            ENDPOINT_RISK,
            (SubmitOrder, ModifyOrder, CancelOrder),
        )
        overridden = self._overridden = _overridden_callbacks(type(self))
        # The events go to the callbacks in C (zq_core.callbacks), by the rules of
        # _handle_order_event and _handle_position_event below.
        defaults = _base_callbacks()
        self._order_callbacks = EventCallbacks(
            self, dict(_ORDER_CALLBACKS), "on_order_event", overridden, defaults, False
        )
        self._position_callbacks = EventCallbacks(
            self, dict(_POSITION_CALLBACKS), "on_position_event", overridden, defaults, True
        )
        # Their bound deliver methods are subscribed (called without an argument tuple).
        self._order_delivery = self._order_callbacks.deliver
        self._position_delivery = self._position_callbacks.deliver
        self.bus.subscribe(topics.order_events(self.id), self._order_delivery)
        self.bus.subscribe(topics.position_events(self.id), self._position_delivery)

    def _on_dispose(self) -> None:
        super()._on_dispose()
        bus, orders, positions = self._bus, self._order_delivery, self._position_delivery
        if bus is not None and orders is not None and positions is not None:
            bus.unsubscribe(topics.order_events(self.id), orders)
            bus.unsubscribe(topics.position_events(self.id), positions)

    #: Builds this strategy's orders (ids unique and deterministic).
    order_factory: Required[OrderFactory] = Required("_order_factory", "order factory")
    #: The node's portfolio (read it).
    portfolio: Required[PortfolioView] = Required("_portfolio", "portfolio")

    def save(self) -> dict[str, bytes]:
        """Return the strategy's state, including its order-id count."""
        state = super().save()
        state[_COUNT_KEY] = str(self.order_factory.count).encode()
        return state

    def load(self, state: dict[str, bytes]) -> None:
        """Restore a state returned by :meth:`save` (order ids continue, never reused)."""
        state = dict(state)
        count = state.pop(_COUNT_KEY, None)
        if count is not None:
            self.order_factory.set_count(int(count))
        super().load(state)

    # -- actions -------------------------------------------------------------------------

    def submit_order(self, order: Order, position_id: PositionId | None = None) -> None:
        """Cache ``order`` (INITIALIZED) and send it to the RiskEngine.

        Parameters
        ----------
        order : Order
            A new order from :attr:`order_factory`.
        position_id : PositionId, optional
            The position the order is for (hedging mode: closing a given position).

        Raises
        ------
        CacheError
            If an order with the same client order id was already submitted.
        ValueError
            If the order belongs to another strategy.
        """
        sender = self._sender
        if sender is None:
            if order.strategy_id != self.id:
                raise ValueError(
                    f"{self.id} cannot submit {order.client_order_id} of {order.strategy_id}"
                )
            raise self._unregistered("cache")
        # Checks the strategy, caches the order, then sends SubmitOrder(trader_id, self.id,
        # order.instrument_id, clock.timestamp_ns(), order.init, position_id).
        sender.submit_order(order, position_id)

    def modify_order(
        self,
        order: Order,
        quantity: Quantity | None = None,
        price: Price | None = None,
        trigger_price: Price | None = None,
    ) -> None:
        """Ask to change an open order's quantity and/or prices (the RiskEngine re-checks)."""
        sender = self._sender
        if sender is None:
            raise self._unregistered("bus")
        # ModifyOrder(trader_id, self.id, order.instrument_id, clock.timestamp_ns(),
        # order.client_order_id, order.venue_order_id, quantity, price, trigger_price).
        sender.modify_order(order, quantity, price, trigger_price)

    def cancel_order(self, order: Order) -> None:
        """Ask to cancel an order."""
        sender = self._sender
        if sender is None:
            raise self._unregistered("bus")
        # CancelOrder(trader_id, self.id, order.instrument_id, clock.timestamp_ns(),
        # order.client_order_id, order.venue_order_id).
        sender.cancel_order(order)

    if not TYPE_CHECKING:
        # Read on a registered strategy, these three are its OrderSender's own methods: no
        # interpreter frame between the user's callback and the command (a descriptor, not
        # an attribute set on the instance, which would take the instance's attributes out
        # of CPython's shared-key layout). The methods above are the reference, read on the
        # class and on a strategy not registered yet.
        submit_order = SentCommand(submit_order)
        modify_order = SentCommand(modify_order)
        cancel_order = SentCommand(cancel_order)

    def cancel_all_orders(
        self, instrument_id: InstrumentId, side: OrderSide = OrderSide.NO_ORDER_SIDE
    ) -> None:
        """Ask to cancel every open order of this strategy on the instrument (one side or both)."""
        self.bus.send(
            ENDPOINT_RISK,
            CancelAllOrders(
                trader_id=self.trader_id,
                strategy_id=self.id,
                instrument_id=instrument_id,
                order_side=side,
                ts_init=self.clock.timestamp_ns(),
            ),
        )

    def close_position(self, position: PositionView, tags: tuple[str, ...] = ()) -> Order | None:
        """Submit a reduce-only market order that flattens ``position``; return it.

        Returns None when the position is already flat.

        Raises
        ------
        ValueError
            If the position belongs to another strategy, or its instrument is not cached.
        """
        if position.strategy_id != self.id:
            raise ValueError(f"{self.id} cannot close {position.id} of {position.strategy_id}")
        signed = position.signed_qty
        if signed == 0:
            return None
        instrument = self.cache.instrument(position.instrument_id)
        if instrument is None:
            raise ValueError(f"instrument {position.instrument_id} is not in the cache")
        order = self.order_factory.market(
            position.instrument_id,
            OrderSide.SELL if signed > 0 else OrderSide.BUY,
            instrument.make_qty(abs(signed)),
            time_in_force=TimeInForce.GTC,
            reduce_only=True,
            tags=tags,
        )
        self.submit_order(order, position_id=position.id)
        return order

    def close_all_positions(self, instrument_id: InstrumentId) -> list[Order]:
        """Close every open position of this strategy on the instrument; return the orders."""
        orders = []
        for position in self.cache.positions_open(instrument_id=instrument_id, strategy_id=self.id):
            order = self.close_position(position)
            if order is not None:
                orders.append(order)
        return orders

    # -- order and position callbacks for users --------------------------------------------

    def on_order_event(self, event: OrderEvent) -> None:
        """Called with every order event of this strategy, after its specific callback."""

    def on_order_denied(self, event: OrderDenied) -> None:
        """The RiskEngine (or the ExecutionEngine) refused the order; it never left."""

    def on_order_submitted(self, event: OrderSubmitted) -> None:
        """The order is on its way to the venue."""

    def on_order_accepted(self, event: OrderAccepted) -> None:
        """The venue acknowledged the order."""

    def on_order_rejected(self, event: OrderRejected) -> None:
        """The venue (or a failing client) refused the order."""

    def on_order_canceled(self, event: OrderCanceled) -> None:
        """The order was canceled."""

    def on_order_expired(self, event: OrderExpired) -> None:
        """The order's time in force ran out."""

    def on_order_triggered(self, event: OrderTriggered) -> None:
        """The order's trigger price was reached."""

    def on_order_pending_update(self, event: OrderPendingUpdate) -> None:
        """A modify was sent."""

    def on_order_pending_cancel(self, event: OrderPendingCancel) -> None:
        """A cancel was sent."""

    def on_order_modify_rejected(self, event: OrderModifyRejected) -> None:
        """A modify was refused."""

    def on_order_cancel_rejected(self, event: OrderCancelRejected) -> None:
        """A cancel was refused."""

    def on_order_updated(self, event: OrderUpdated) -> None:
        """The venue applied a modify."""

    def on_order_filled(self, event: OrderFilled) -> None:
        """The order was (partly) filled."""

    def on_position_opened(self, event: Any) -> None:
        """A position of this strategy was opened."""

    def on_position_changed(self, event: Any) -> None:
        """A position of this strategy changed (added to, reduced, flipped)."""

    def on_position_closed(self, event: Any) -> None:
        """A position of this strategy was closed."""

    def on_position_event(self, event: Any) -> None:
        """Called with every position event, after its specific callback."""

    # The callbacks run only where they are overridden, by the class (as registered) or on
    # the instance: Strategy's own do nothing, and calling them cost a third of a
    # microsecond per event. The bus delivers the events through zq_core.callbacks, which
    # applies these same rules in C (finding an instance's callback by looking the name up,
    # not in self.__dict__: reading __dict__ slows every attribute read of the strategy);
    # these methods are its reference. A callback the class does not override and that is
    # assigned on the instance is kept by its CallbackSlot (in _assigned_callbacks), one
    # the class overrides in the instance's __dict__.

    def _handle_order_event(self, event: OrderEvent) -> None:
        name = _ORDER_CALLBACKS.get(type(event))
        overridden, instance = self._overridden, self.__dict__
        assigned = getattr(self, ASSIGNED, None) or {}
        if name is not None and (name in overridden or name in instance or name in assigned):
            getattr(self, name)(event)
        general = "on_order_event"
        if general in overridden or general in instance or general in assigned:
            self.on_order_event(event)

    def _handle_position_event(self, event: Any) -> None:
        name = _POSITION_CALLBACKS.get(type(event).__name__)
        overridden, instance = self._overridden, self.__dict__
        assigned = getattr(self, ASSIGNED, None) or {}
        if name is not None and (name in overridden or name in instance or name in assigned):
            getattr(self, name)(event)
        general = "on_position_event"
        if general in overridden or general in instance or general in assigned:
            self.on_position_event(event)


def _callback_names() -> tuple[str, ...]:
    return (
        *_ORDER_CALLBACKS.values(),
        *_POSITION_CALLBACKS.values(),
        "on_order_event",
        "on_position_event",
    )


def _base_callbacks() -> dict[str, Any]:
    """Return Strategy's own (no-op) callbacks by name."""
    return {name: getattr(Strategy, name) for name in _callback_names()}


def _overridden_callbacks(cls: type[Strategy[Any]]) -> frozenset[str]:
    """Return the order and position callbacks ``cls`` overrides (not Strategy's no-ops)."""
    return frozenset(
        name
        for name in _callback_names()
        if getattr(cls, name, None) is not getattr(Strategy, name)
    )


# Strategy's own callbacks become slots: an instance assigning one its class does not
# override is seen by zq_core.callbacks, which skips the rest without a look-up per event.
for _name in _callback_names():
    setattr(Strategy, _name, CallbackSlot(_name, getattr(Strategy, _name)))
del _name
