"""The ExecutionEngine's command path in C: the order put in flight, then handed to its client.

``zq.execution.ExecutionEngine`` registers :meth:`CommandPath.execute` as its
``ENDPOINT_EXECUTION`` handler (unless a subclass overrides ``execute`` or ``_submit``). A
``SubmitOrder`` for a cached order whose instrument has a client is carried out here, as
``ExecutionEngine._submit`` does it: the position id remembered, ``OrderSubmitted`` applied
through the engine's ``_apply_local`` (the order is in flight in the cache, and the event
published, before the client is called), then the client's ``submit_order`` (the backtest
client's exchange directly: :func:`register_exchange_client`); a client that raises is
handed to the engine's ``_submit_failed``. The clock is read from its time cell in C when
it has one (``zq_core.time_source``). A ``ModifyOrder`` or ``CancelOrder`` the
order's state takes is carried out as ``ExecutionEngine._pending`` does it (``OrderPendingUpdate``
/ ``OrderPendingCancel`` applied first; a client that raises goes to ``_pending_failed``).
Every other command, and one this path cannot carry out (an order not cached, an instrument
without a client yet routed or without one at all, a state the pending event is not valid
in), goes to the engine's Python ``execute``, which decides.
"""

cimport cython

from zq_core.cache cimport CacheCore, latest_order
from zq_core.execution cimport ExecutionCore
from zq_core.orders cimport Order
from zq_core.slots cimport read_field, slot_offset
from zq_core.time_source cimport TimeSource

__all__ = ["CommandPath", "ExchangeCommand", "exchange_command", "register_exchange_client"]


cdef extern from "Python.h":
    object PyMethod_New(object function, object instance)


# The backtest's execution client type (zq.backtest.client.BacktestExecutionClient), whose
# submit_order / modify_order / cancel_order only hand the command to its ``exchange``'s
# submit / modify / cancel: a client of exactly this type is skipped, the exchange called.
cdef object _exchange_client = None

_EXCHANGE_COMMANDS = ("submit_order", "modify_order", "cancel_order")


def register_exchange_client(client_type):
    """Call the ``exchange`` of clients of exactly ``client_type`` directly.

    Its ``submit_order``, ``modify_order`` and ``cancel_order`` must only call the exchange's
    ``submit``, ``modify`` and ``cancel``, and be :func:`exchange_command` methods (an
    instance cannot replace them: the command path would not call the replacement).

    Raises
    ------
    TypeError
        If ``client_type`` is not a type, or does not define the three methods with
        :func:`exchange_command`.
    """
    global _exchange_client
    if not isinstance(client_type, type):
        raise TypeError(f"client_type must be a type, got {client_type!r}")
    for name in _EXCHANGE_COMMANDS:
        if not isinstance(client_type.__dict__.get(name), ExchangeCommand):
            raise TypeError(
                f"{client_type.__name__}.{name} must be defined with exchange_command: "
                f"the command path calls the exchange instead of it"
            )
    _exchange_client = client_type


@cython.final
cdef class ExchangeCommand:
    """A command method of an exchange client that an instance cannot replace.

    Made by :func:`exchange_command`. Read from the class, it is the function; read from an
    instance, the bound method. Assigning or deleting it on an instance raises
    ``AttributeError``: the command path calls the client's exchange itself, so a
    replacement would never be called (a subclass that overrides the method is called).
    """

    cdef readonly object method
    cdef str _name
    cdef str _owner

    def __init__(self, method):
        if not callable(method):
            raise TypeError(f"exchange_command needs a function, got {method!r}")
        self.method = method
        self._name = getattr(method, "__name__", "method")
        self._owner = "the client"

    def __set_name__(self, owner, name):
        self._owner = owner.__name__
        self._name = name

    def __get__(self, obj, owner):
        if obj is None:
            return self.method
        return PyMethod_New(self.method, obj)

    def __set__(self, obj, value):
        raise AttributeError(self._refusal(obj))

    def __delete__(self, obj):
        raise AttributeError(self._refusal(obj))

    cdef str _refusal(self, obj):
        return (
            f"{type(obj).__name__}.{self._name} cannot be replaced on an instance: the "
            f"ExecutionEngine hands the commands of a {self._owner} to its exchange directly; "
            f"subclass {self._owner} and override {self._name} instead"
        )

    def __repr__(self):
        return f"exchange_command({self.method!r})"


def exchange_command(method):
    """Mark ``method`` (``submit_order``, ``modify_order`` or ``cancel_order`` of a client
    that only hands the command to its exchange) as one an instance cannot replace."""
    return ExchangeCommand(method)


@cython.final
cdef class CommandPath:
    """Carry out the usual submit, modify and cancel in C; hand the rest to ``fallback``.

    Parameters
    ----------
    engine : ExecutionEngine
        Read once: its cache's ``order``, its ``clock``, its instrument routes and position
        ids (the dictionaries themselves, which the engine keeps), its ``_apply_local`` and
        ``_submit_failed``.
    types : tuple
        ``(SubmitOrder, OrderSubmitted, ModifyOrder, OrderPendingUpdate, CancelOrder,
        OrderPendingCancel)`` (zq_core does not import zq).
    state_table : dict
        ``ORDER_STATE_TABLE``: ``(status, event type)`` pairs a pending event is valid in.
    fallback : callable
        The engine's Python ``execute``.
    """

    def __init__(self, engine, tuple types not None, dict state_table not None, fallback):
        (
            self._submit_type,
            self._submitted_type,
            self._modify_type,
            self._pending_update_type,
            self._cancel_type,
            self._pending_cancel_type,
        ) = types
        self._state_table = state_table
        self._fallback = fallback
        # The commands' fields read at their slot offsets (the order specification's type is
        # learnt from the first submit).
        self._submit_order_at = slot_offset(self._submit_type, "order")
        self._submit_position_at = slot_offset(self._submit_type, "position_id")
        self._modify_id_at = slot_offset(self._modify_type, "client_order_id")
        self._cancel_id_at = slot_offset(self._cancel_type, "client_order_id")
        self._init_type = None
        self._init_id_at = -1
        cache = engine.cache
        self._order = cache.order
        # The cache's orders read directly when its ``order`` is CacheCore's.
        self._orders = (
            (<CacheCore>cache)._orders
            if isinstance(cache, CacheCore) and type(cache).order is CacheCore.order
            else None
        )
        self._cache = <CacheCore>cache if self._orders is not None else None
        self._time = TimeSource(engine.clock)
        self._routes = engine._instrument_routes
        self._position_ids = engine._position_ids
        self._apply_local = engine._apply_local
        # An ExecutionCore's cpdef _apply_local is called in C (it still finds a subclass's
        # override, or one set on the instance, as the bound method would).
        self._engine = engine if isinstance(engine, ExecutionCore) else None
        self._submit_failed = engine._submit_failed
        self._pending_failed = engine._pending_failed

    @cython.always_allow_keywords(False)  # METH_O: the bus calls it without parsing
    def execute(self, command):
        """Carry out ``command`` (the ``ENDPOINT_EXECUTION`` handler)."""
        kind = type(command)
        if kind is self._submit_type:
            self._submit(command)
        elif kind is self._cancel_type:
            self._pending(command, self._pending_cancel_type, False)
        elif kind is self._modify_type:
            self._pending(command, self._pending_update_type, True)
        else:
            self._fallback(command)

    cdef object _cached_order(self, object client_order_id):
        if self._orders is not None:
            # The order just added by the strategy (the usual submit), else looked up.
            order = latest_order(self._cache, client_order_id)
            return order if order is not None else self._orders.get(client_order_id)
        return self._order(client_order_id)

    cdef int _submit(self, object command) except -1:
        init = read_field(command, self._submit_type, self._submit_order_at, "order")
        if type(init) is not self._init_type:
            self._init_id_at = slot_offset(type(init), "client_order_id")
            self._init_type = type(init)
        found = self._cached_order(
            read_field(init, self._init_type, self._init_id_at, "client_order_id")
        )
        if not isinstance(found, Order):  # not cached (or not an Order): the engine decides
            self._fallback(command)
            return 0
        cdef Order order = <Order>found
        instrument_id = order.instrument_id
        client = self._routes.get(instrument_id)
        if client is None:  # not routed yet, or no client: the engine routes or denies
            self._fallback(command)
            return 0
        client_order_id = order.client_order_id
        position_id = read_field(
            command, self._submit_type, self._submit_position_at, "position_id"
        )
        if position_id is None:
            position_id = order.position_id
        if position_id is not None:
            self._position_ids[client_order_id] = position_id
        now = self._time.now_c()
        # Pre-submission tracking: in flight in the cache before the client sees it.
        submitted = self._submitted_type(  # positional: the field order of OrderSubmitted
            order.trader_id,
            order.strategy_id,
            instrument_id,
            client_order_id,
            now,  # ts_event
            now,  # ts_init
            client.account_id,
        )
        if not (
            self._engine._apply_local(order, submitted) if self._engine is not None
            else self._apply_local(order, submitted)
        ):
            return 0
        try:
            if type(client) is _exchange_client:
                client.exchange.submit(command)
            else:
                client.submit_order(command)
        except Exception as exc:
            self._submit_failed(client, order, exc)
        return 0

    cdef int _pending(self, object command, object kind, bint modify) except -1:
        found = self._cached_order(
            read_field(command, self._modify_type, self._modify_id_at, "client_order_id")
            if modify else
            read_field(command, self._cancel_type, self._cancel_id_at, "client_order_id")
        )
        if not isinstance(found, Order):
            self._fallback(command)
            return 0
        cdef Order order = <Order>found
        instrument_id = order.instrument_id
        client = self._routes.get(instrument_id)
        if client is None or (order.status, kind) not in self._state_table:
            self._fallback(command)  # the engine routes, or refuses the request
            return 0
        now = self._time.now_c()
        pending = kind(  # positional: the field order of both pending events
            order.trader_id,
            order.strategy_id,
            instrument_id,
            order.client_order_id,
            now,  # ts_event
            now,  # ts_init
            order.venue_order_id,
            order.account_id,
        )
        if not (
            self._engine._apply_local(order, pending) if self._engine is not None
            else self._apply_local(order, pending)
        ):
            return 0
        try:
            if type(client) is _exchange_client:
                if modify:
                    client.exchange.modify(command)
                else:
                    client.exchange.cancel(command)
            elif modify:
                client.modify_order(command)
            else:
                client.cancel_order(command)
        except Exception as exc:
            self._pending_failed(client, order, "modify" if modify else "cancel", exc)
        return 0
