"""The compiled event path of the ExecutionEngine: venue events applied to their orders.

``zq.execution.ExecutionEngine`` subclasses :class:`ExecutionCore`. Per venue event the core
finds the order in the cache, applies the event through the order's C entry point,
re-indexes the order, publishes the event on the strategy's order topic and, for a fill,
hands it to the portfolio and publishes the position events. Refused events are counted and
reported through the Python class's ``_report`` (a cold path); the subclass supplies, as
class attributes, what zq_core cannot import: the topic functions (``_order_topic``,
``_position_topic``) and the error kinds (``_error_kinds``).
"""

cimport cython
from cpython.tuple cimport PyTuple_GET_SIZE
from cpython.type cimport PyType_IsSubtype
import msgspec

from zq_core.cache cimport latest_order
from zq_core.orders cimport (
    Order,
    apply_errors,
    event_client_order_id,
    filled_type,
    has_trade,
)
from zq_core.portfolio cimport PortfolioCore
from zq_core.position cimport (
    F_POSITION_ID,
    F_STRATEGY_ID,
    F_TRADE_ID,
    fill_field,
    fill_with_position_id,
)

__all__ = ["ExecutionCore"]

cdef object _StructMeta = type(msgspec.Struct)


cdef class ExecutionCore:
    """The compiled base of ``zq.execution.ExecutionEngine`` (its event path)."""

    def __cinit__(self, *args, **kwargs):
        self._netting_ids = {}
        self._position_ids = {}
        self._order_topics = {}
        self._position_topics = {}
        self._order_route = TopicRoute()
        self._position_route = TopicRoute()

    # -- events --------------------------------------------------------------------------

    @cython.always_allow_keywords(False)  # METH_O: the venue calls it without parsing
    cpdef process(self, object event):
        """Apply one venue event to its order, update the cache and publish the results.

        Never raises for a bad event: it is dropped, counted and reported (see the class
        notes).
        """
        client_order_id = event_client_order_id(event)  # an order event's at its slot
        order = latest_order(self.cache, client_order_id)  # the order just submitted
        if order is None:
            order = self.cache._orders.get(client_order_id)
        if order is None:
            self.unknown_events += 1
            self._report(
                self._error_kinds.UNKNOWN_ORDER,
                client_order_id,
                f"{type(event).__name__} for unknown order {client_order_id}",
                event,
            )
            return
        filled = filled_type()
        # isinstance(event, filled), by the types: OrderFilled's metaclass (msgspec's
        # StructMeta) keeps type's __instancecheck__, which isinstance would look up and call.
        if type(event) is filled or (
            PyType_IsSubtype(type(event), <type>filled) if type(filled) is _StructMeta
            else isinstance(event, filled)
        ):
            self._process_fill(<Order?>order, event)
            return
        self._apply_venue(<Order?>order, event)

    cdef int _process_fill(self, Order order, object fill) except -1:
        trade_id = fill_field(fill, F_TRADE_ID)
        if has_trade(order, trade_id):
            self.duplicate_fills += 1
            self._report(
                self._error_kinds.DUPLICATE_FILL,
                order.client_order_id,
                f"order {order.client_order_id}: trade {trade_id} was already applied; "
                "the repeated fill is dropped",
                fill,
            )
            return 0
        if fill_field(fill, F_POSITION_ID) is None:
            # A netting position's id is known once per (instrument, strategy); the latest
            # pair's is kept (_forget_netting_ids forgets it; an emptied _netting_ids too).
            instrument_id = order.instrument_id
            strategy_id = order.strategy_id
            if (
                instrument_id is self._last_instrument_id
                and strategy_id is self._last_strategy_id
                and self._netting_ids
            ):
                position_id = self._last_position_id
            else:
                position_id = self._netting_ids.get((instrument_id, strategy_id))
                if position_id is None:
                    position_id = self._position_id(order)
                else:
                    self._last_instrument_id = instrument_id
                    self._last_strategy_id = strategy_id
                    self._last_position_id = position_id
            fill = fill_with_position_id(fill, position_id)
        if not self._apply_venue(order, fill):
            return 0
        instrument = self.cache._instruments.get(order.instrument_id)
        if instrument is None:
            self._report(
                self._error_kinds.UNKNOWN_INSTRUMENT,
                order.client_order_id,
                f"fill {trade_id}: instrument {order.instrument_id} is not in the cache; "
                "positions were not updated",
                fill,
            )
            return 0
        portfolio = self.portfolio
        cdef bint plain = (
            type(portfolio) is self._plain_portfolio or _plain_portfolio(self, portfolio)
        )
        try:
            if plain:
                produced = (<PortfolioCore>portfolio)._process(fill, instrument)
            else:
                produced = portfolio.process_fill(fill, instrument)
        except Exception as exc:
            # The order keeps the fill (the venue did fill it); the portfolio refused it.
            # Reported, then re-raised: a backtest stops, a live bus logs and counts it.
            self.portfolio_errors += 1
            self._report(
                self._error_kinds.PORTFOLIO_ERROR,
                order.client_order_id,
                f"fill {trade_id}: the portfolio refused it: {exc!r}",
                fill,
            )
            raise
        if produced and plain:
            # PortfolioCore's events are of the fill's position, which belongs to the
            # fill's strategy (else it refused the fill): one topic for them all.
            topic = self._position_topic_of(fill_field(fill, F_STRATEGY_ID))
            for position_event in produced:
                self._position_route.publish(self.bus, topic, position_event)
        elif produced:
            for position_event in produced:
                self.bus.publish(
                    self._position_topic_of(position_event.strategy_id), position_event
                )
        return 0

    def _forget_netting_ids(self):
        """Forget the netting position ids found so far (the routes changed, or a reset)."""
        self._netting_ids.clear()
        self._last_instrument_id = self._last_strategy_id = self._last_position_id = None

    def _position_id(self, Order order not None):
        """Return the position id of a fill of ``order`` (see ExecutionEngine's notes)."""
        client = self._client_for_instrument(order.instrument_id)
        if client is None or client.oms_type is self._netting:
            key = (order.instrument_id, order.strategy_id)
            position_id = self._netting_ids.get(key)
            if position_id is None:
                position_id = self._position_id_type(f"{order.instrument_id}-{order.strategy_id}")
                self._netting_ids[key] = position_id
            return position_id
        known = self._position_ids.get(order.client_order_id) or order.position_id
        if known is not None:
            return known
        position_id = self._position_id_type(
            f"{order.instrument_id}-{order.strategy_id}-{order.client_order_id}"
        )
        self._position_ids[order.client_order_id] = position_id
        return position_id

    cpdef bint _apply_venue(self, Order order, object event) except -1:
        """Apply a venue event; on refusal report it and leave the order as it was."""
        try:
            order._apply(event)
        except Exception as exc:
            invalid, overfill, duplicate = apply_errors()
            if isinstance(exc, overfill):
                self.overfills += 1
                kind = self._error_kinds.OVERFILL
            elif isinstance(exc, duplicate):
                self.duplicate_fills += 1
                kind = self._error_kinds.DUPLICATE_FILL
            elif isinstance(exc, invalid):
                self.invalid_events += 1
                kind = self._error_kinds.INVALID_TRANSITION
            else:
                raise
            self._report(kind, order.client_order_id, str(exc), event)
            return False
        self.cache.update_order(order)
        self._order_route.publish(self.bus, self._order_topic_of(order.strategy_id), event)
        return True

    cpdef bint _apply_local(self, Order order, object event) except -1:
        """Apply an event the engine made itself (submitted, pending, denied, rejected)."""
        return ExecutionCore._apply_venue(self, order, event)

    cdef str _order_topic_of(self, object strategy_id):
        # The latest strategy id's topic (by identity: a topic never changes), else the dict.
        if strategy_id is self._order_topic_id and self._last_order_topic is not None:
            return self._last_order_topic
        topic = self._order_topics.get(strategy_id)
        if topic is None:
            topic = self._order_topics[strategy_id] = self._order_topic(strategy_id)
        self._order_topic_id = strategy_id
        self._last_order_topic = topic
        return topic

    cdef str _position_topic_of(self, object strategy_id):
        if strategy_id is self._position_topic_id and self._last_position_topic is not None:
            return self._last_position_topic
        topic = self._position_topics.get(strategy_id)
        if topic is None:
            topic = self._position_topics[strategy_id] = self._position_topic(strategy_id)
        self._position_topic_id = strategy_id
        self._last_position_topic = topic
        return topic


cdef class TopicRoute:
    """Publishes on a topic with the subscribers the bus resolved last for it."""

    cdef int publish(self, MessageBus bus, str topic, object event) except -1:
        # bus.publish(topic, event): what publish does after its look-up of the topic's
        # subscribers, with the ones found last while nothing subscribed or unsubscribed
        # since (the bus replaces a topic's tuple then, and bumps its version).
        cdef tuple subscribers
        if topic is self.topic and bus.version == self.version:
            subscribers = self.subscribers
        else:
            subscribers = bus._lookup(topic)
            self.topic = topic
            self.subscribers = subscribers
            self.version = bus.version
        bus.published += 1
        if PyTuple_GET_SIZE(subscribers):
            bus._dispatch(subscribers, topic, event)
        return 0


cdef object _CORE_PROCESS_FILL = PortfolioCore.process_fill


cdef bint _plain_portfolio(ExecutionCore core, object portfolio) except -1:
    # Whether the portfolio is a PortfolioCore whose class keeps its process_fill (the
    # compiled _process is then called directly); the class is remembered.
    kind = type(portfolio)
    if isinstance(portfolio, PortfolioCore) and getattr(kind, "process_fill", None) is (
        _CORE_PROCESS_FILL
    ):
        core._plain_portfolio = kind
        return True
    return False
